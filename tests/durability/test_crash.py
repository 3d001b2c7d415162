"""Proof that nothing is lost (issue #5): SIGKILL the SMSC again and again while real clients
submit, restart it on the same data folder and port, and check the promise afterwards.

The set-up, all black boxes over SMPP:
- the SMSC under test is `opensmsc run --config FILE` in a child process (procs.py);
- SESSIONS transceiver clients (esme.py) submit uniquely numbered messages with
  registered_delivery=1, reconnect after each kill and keep submitting new numbers;
- "the network" is the sink (sink.py), another SMSC that the SMSC under test reaches through an
  `[[smpp.client]]` connector made its `[routing] default_route`. The sink logs every submit_sm
  and answers DELIVRD receipts. When the configuration does not know `[routing]` yet, the test
  falls back to the loopback route: then "reached the network" cannot be observed and the
  report says so.

After at least KILLS kills and a last restart, traffic stops and everything may settle (bounded
wait). Then:
1. every message that got a message_id is in exactly one final state (query_sm each one; and,
   after a clean stop, the SQLite store read-only: one MT row each, final, owing one receipt);
2. each receipt asked for reached the client (at least once; duplicates are counted and carry
   the same content and ids);
3. nothing reached the sink or the client twice, except where a crash lost the acknowledgement of
   a delivery already made: every duplicate must straddle a kill, and the duplicates attributed
   to each kill are at most the in-flight window at that kill (window × sessions), so their sum
   is bounded by the sum over kills;
4. nothing that was refused (an error submit_sm_resp) was delivered or receipted.
Messages whose submit_sm_resp a kill swallowed are in doubt: the SMSC may have stored them. They
are reported (how many were stored anyway), not failed.

Knobs (environment): OPENSMSC_CRASH_SEED, _KILLS, _SESSIONS, _RATE (submits/s per session).
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import dataclasses
import itertools
import os
import random
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from opensmsc.smpp import MessageState, stat_for_state
from opensmsc.store import FINAL_STATES
from tests.durability.esme import Ledger, SessionRunner, final_state, number_in, query_all
from tests.durability.procs import (
    SinkProcess,
    SmscProcess,
    SmscSettings,
    cheap_hash,
    check_config,
    config_toml,
    free_port,
)

pytestmark = [pytest.mark.durability, pytest.mark.timeout(280)]

SEED = int(os.environ.get("OPENSMSC_CRASH_SEED", random.randrange(2**32)))
KILLS = int(os.environ.get("OPENSMSC_CRASH_KILLS", "22"))
SESSIONS = int(os.environ.get("OPENSMSC_CRASH_SESSIONS", "4"))
RATE = float(os.environ.get("OPENSMSC_CRASH_RATE", "300"))  # submits per second per session
CLIENT_WINDOW = 20  # the account's window: submit_sm in flight per client session
DELIVER_WINDOW = 10  # smpp.server.window: receipts (deliver_sm) in flight per client session
CONNECTOR_WINDOW = 10  # smpp.client.window: submit_sm in flight to the sink
CONNECTOR_SESSIONS = 1  # bind = "transceiver"
STARTUP_KILL_SHARE = 0.2  # kills that land while the SMSC starts (recovery, migration)
UPTIME = (0.3, 2.0)  # seconds the SMSC runs, once listening, before a kill
LEASE = 5.0  # [store] lease: a message in an attempt a kill cut short is due again this late
SETTLE_TIMEOUT = 90.0  # the bounded wait for every receipt after the last restart
QUIET = 3.0  # after that, how long to keep listening for late duplicates
SYSTEM_ID, PASSWORD = "crash", "crashpw"


@dataclass(frozen=True)
class Kill:
    at: float  # time.time()
    during_startup: bool
    sessions_bound: int  # client sessions bound to the SMSC when it died
    submits_in_flight: int


@dataclass
class Duplicates:
    """Copies of one delivery beyond the first. Each copy is known with the run of the SMSC
    (its incarnation: how many kills came before) that made it; a copy made again by a later
    run is attributed to the kill that ended the earlier run, one made twice by the same run is
    unexplained (no crash lost anything there)."""

    per_kill: collections.Counter[int] = field(default_factory=collections.Counter)
    unexplained: list[tuple[object, float, float]] = field(default_factory=list)
    ages: list[float] = field(default_factory=list)  # kill time - the earlier copy's time, s

    @property
    def total(self) -> int:
        return sum(self.per_kill.values()) + len(self.unexplained)

    @property
    def max_per_kill(self) -> int:
        return max(self.per_kill.values(), default=0)

    def add(
        self, key: object, copies: Iterable[tuple[int, float]], kill_times: list[float]
    ) -> None:
        for (run, at), (later_run, later_at) in itertools.pairwise(sorted(copies)):
            if later_run > run:
                self.per_kill[run] += 1
                self.ages.append(kill_times[run] - at)
            else:
                self.unexplained.append((key, at, later_at))

    def over(self, bounds: list[int]) -> dict[int, int]:
        """Kills (by index) after which more copies were made again than were in flight."""
        return {k: n for k, n in sorted(self.per_kill.items()) if n > bounds[k]}

    def summary(self, bounds: list[int], kills: list[Kill]) -> str:
        return (
            f"{self.total}: {self.total - len(self.unexplained)} across a kill, at most "
            f"{self.max_per_kill} per kill (bound per kill {min(bounds, default=0)}.."
            f"{max(bounds, default=0)}, in all {sum(bounds)} over {len(kills)} kills); over "
            f"the bound after kills {self.over(bounds) or 'none'}; without a crash "
            f"{len(self.unexplained)}; first copies made {self.age_summary()}"
        )

    def age_summary(self) -> str:
        """How long before its kill the copy made again had first gone out: beyond a round
        trip, its acknowledgement had arrived and only its recording was still pending."""
        if not self.ages:
            return "-"
        ages = sorted(self.ages)
        return (
            f"p50 {ages[len(ages) // 2] * 1e3:.1f} ms, max {ages[-1] * 1e3:.1f} ms before the kill"
        )


# --------------------------------------------------------------------------- the run


async def _kill_loop(
    smsc: SmscProcess, ledger: Ledger, runners: list[SessionRunner], rng: random.Random
) -> list[Kill]:
    kills: list[Kill] = []

    def kill(during_startup: bool) -> None:
        bound = sum(1 for r in runners if r.session is not None and r.session.is_bound)
        in_flight = sum(len(r.session.outstanding) for r in runners if r.session is not None)
        smsc.kill()
        ledger.kills += 1  # sessions connecting from now on reach the next run
        kills.append(Kill(time.time(), during_startup, bound, in_flight))

    await smsc.start()
    while len(kills) < KILLS:
        await asyncio.sleep(rng.uniform(*UPTIME))
        kill(during_startup=False)
        if len(kills) < KILLS and rng.random() < STARTUP_KILL_SHARE:
            smsc.spawn()  # killed again while it starts: opening the store, recovering
            await asyncio.sleep(rng.uniform(0.05, 0.5))
            kill(during_startup=True)
        await smsc.start()
    return kills


async def _settle(ledger: Ledger, deadline: float) -> float:
    """Wait (bounded) until every accepted message has a receipt (with a sink, a receipt also
    means the message reached it: the receipt comes from there), then a little longer."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        receipted = {r.message_id for r in ledger.receipts}
        missing = [m for m in ledger.accepted.values() if m not in receipted]
        if not missing:
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(QUIET)
    return time.monotonic() - started


def _read_sink(
    path: Path, kill_times: list[float]
) -> tuple[dict[int, list[tuple[int, float]]], list[str], int]:
    """number → (run of the SMSC, time) of each copy that reached the sink; lines that name no
    number; receipts acknowledged. A connection belongs to the run alive when the sink took
    it: the kills before its accept time."""
    reached: dict[int, list[tuple[int, float]]] = collections.defaultdict(list)
    strange: list[str] = []
    acked = 0
    runs: dict[str, int] = {}
    if not path.exists():
        return reached, strange, acked
    for line in path.read_text(encoding="latin-1").splitlines():
        parts = line.split(" ", 4)
        if parts[0] == "R":
            acked += 1
        elif parts[0] == "C" and len(parts) == 3:
            runs[parts[2]] = bisect.bisect_right(kill_times, float(parts[1]))
        elif parts[0] == "S" and len(parts) == 5 and parts[3] in runs:
            number = number_in(parts[4])
            if number is None:
                strange.append(line)
            else:
                reached[number].append((runs[parts[3]], float(parts[1])))
        else:
            strange.append(line)
    return reached, strange, acked


@dataclass
class StoreView:
    """The store, read-only after a clean stop, as far as the accepted messages go."""

    present: bool
    integrity: str = ""
    mt_rows: int = 0
    not_exactly_one_row: list[str] = field(default_factory=list)
    not_final: list[str] = field(default_factory=list)
    not_owing_one_receipt: list[str] = field(default_factory=list)
    receipt_states: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.present:
            return "no messages.sqlite3 in the data folder (in-memory engine?)"
        return (
            f"integrity {self.integrity}, {self.mt_rows} MT rows; accepted without exactly one "
            f"row {len(self.not_exactly_one_row)}, not final {len(self.not_final)}, not owing "
            f"exactly one receipt {len(self.not_owing_one_receipt)}; their receipts by state "
            f"{self.receipt_states}"
        )


def _read_store(db: Path, message_ids: set[str]) -> StoreView:
    if not db.exists():
        return StoreView(present=False)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    try:
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        mt: dict[str, list[int]] = collections.defaultdict(list)
        for message_id, state in conn.execute(
            "SELECT message_id, state FROM message WHERE direction = 1"
        ):
            mt[message_id].append(state)
        owed: collections.Counter[str] = collections.Counter()
        receipt_states: collections.Counter[str] = collections.Counter()
        for receipted, state in conn.execute(
            "SELECT receipted_message_id, state FROM message WHERE direction = 3"
        ):
            owed[receipted] += 1
            if receipted in message_ids:
                receipt_states[MessageState(state).name] += 1
    finally:
        conn.close()
    return StoreView(
        present=True,
        integrity=integrity,
        mt_rows=sum(len(v) for v in mt.values()),
        not_exactly_one_row=[m for m in message_ids if len(mt.get(m, ())) != 1],
        not_final=[m for m in message_ids if any(s not in FINAL_STATES for s in mt.get(m, ()))],
        not_owing_one_receipt=[m for m in message_ids if owed[m] != 1],
        receipt_states=dict(receipt_states),
    )


# --------------------------------------------------------------------------- the test


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[SinkProcess]:
    """The sink, started; stopped (and reaped) at teardown whatever happened."""
    process = SinkProcess(tmp_path / "sink.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def test_nothing_acknowledged_is_lost_across_sigkills(
    tmp_path: Path, sink: SinkProcess
) -> None:
    rng = random.Random(SEED)
    port = free_port()
    settings = SmscSettings(
        data_dir=tmp_path / "data",
        port=port,
        system_id=SYSTEM_ID,
        password_hash=cheap_hash(PASSWORD),
        client_window=CLIENT_WINDOW,
        deliver_window=DELIVER_WINDOW,
        sink_port=sink.port,
        connector_window=CONNECTOR_WINDOW,
        lease=LEASE,
    )
    config = tmp_path / "opensmsc.toml"
    config.write_text(config_toml(settings))
    errors = check_config(config)
    if errors and any(e.split(": ", 2)[1].startswith("store") for e in errors if ": " in e):
        settings = dataclasses.replace(settings, lease=None)  # a build without [store]
        config.write_text(config_toml(settings))
        errors = check_config(config)
    network_observable = True
    if errors and any("routing" in e for e in errors):
        # No [routing] yet: the loopback route, where delivery to "the network" is invisible.
        network_observable = False
        sink.stop()
        settings = dataclasses.replace(settings, sink_port=None)
        config.write_text(config_toml(settings))
        errors = check_config(config)
    assert not errors, f"configuration refused: {errors}"

    smsc = SmscProcess(config, port, tmp_path / "smsc.log")
    ledger = Ledger()
    stop = asyncio.Event()
    runners = [
        SessionRunner(ledger, i, port, SYSTEM_ID, PASSWORD, CLIENT_WINDOW, RATE, stop)
        for i in range(SESSIONS)
    ]
    tasks: list[asyncio.Task[None]] = []
    started = time.monotonic()
    try:
        tasks = [asyncio.create_task(r.run()) for r in runners]
        kills = await _kill_loop(smsc, ledger, runners, rng)
        kill_phase = time.monotonic() - started
        await asyncio.sleep(1.0)  # traffic after the last restart, too
        ledger.submitting = False
        await asyncio.sleep(0.5)  # the last submit_sm_resp
        settle_s = await _settle(ledger, time.monotonic() + SETTLE_TIMEOUT)
        queried = await query_all(
            port, SYSTEM_ID, PASSWORD, ledger, sorted(ledger.by_id), window=CLIENT_WINDOW
        )
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)
        exit_code = smsc.stop()
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)
        smsc_log = smsc.log_tail()
        smsc.close()
        sink_summary = sink.stop()
    elapsed = time.monotonic() - started

    # ---- what happened ------------------------------------------------------------------------
    accepted = ledger.accepted
    accepted_ids = set(accepted.values())
    kill_times = [k.at for k in kills]
    states = collections.Counter(
        (s.name if (s := final_state(queried[m])) else "query failed")
        if m in queried
        else "no answer"
        for m in accepted_ids
    )
    not_final = sorted(
        m for m in accepted_ids if m not in queried or final_state(queried[m]) not in FINAL_STATES
    )

    receipts_by_id: dict[str, list[tuple[int, float]]] = collections.defaultdict(list)
    contents: dict[str, set[tuple[bytes, bytes]]] = collections.defaultdict(set)
    stats: dict[str, set[str]] = collections.defaultdict(set)
    for r in ledger.receipts:
        receipts_by_id[r.message_id].append((r.incarnation, r.at))
        contents[r.message_id].add(r.content)
        stats[r.message_id].add(r.stat)
    no_receipt = sorted(m for m in accepted_ids if m not in receipts_by_id)
    receipt_changed = sorted(m for m, c in contents.items() if len(c) > 1)
    stray_receipts = {m: n for m, n in receipts_by_id.items() if m not in accepted_ids}
    stray_numbers = {
        r.number for r in ledger.receipts if r.message_id not in accepted_ids and r.number
    }
    stored_in_doubt = stray_numbers & ledger.unanswered
    receipted_refused = stray_numbers & set(ledger.refused)
    receipted_unknown = stray_numbers - ledger.unanswered - set(ledger.refused)
    stat_mismatch = sorted(
        m
        for m in accepted_ids
        if m in queried
        and (s := final_state(queried[m])) is not None
        and stats.get(m)
        and stats[m] != {stat_for_state(s)}
    )
    client_dups = Duplicates()
    for m, copies in receipts_by_id.items():
        client_dups.add(m, copies, kill_times)

    reached, strange_sink_lines, sink_acked = _read_sink(sink.log_path, kill_times)
    sink_dups = Duplicates()
    for number, copies in reached.items():
        sink_dups.add(number, copies, kill_times)
    never_reached = sorted(n for n in accepted if n not in reached) if network_observable else []
    reached_refused = sorted(n for n in reached if n in ledger.refused)
    reached_in_doubt = {n for n in reached if n in ledger.unanswered}

    store = _read_store(settings.data_dir / "messages.sqlite3", accepted_ids)

    # In flight at each kill: receipts, the server's deliver window per bound client session;
    # at the network, the connector's window per connector session.
    client_bounds = [DELIVER_WINDOW * max(k.sessions_bound, 1) for k in kills]
    sink_bounds = [CONNECTOR_WINDOW * CONNECTOR_SESSIONS] * len(kills)
    client_over = client_dups.over(client_bounds)
    sink_over = sink_dups.over(sink_bounds)

    refusals = dict(collections.Counter(f"0x{st:08X}" for st in ledger.refused.values()))
    report = [
        f"crash test seed={SEED}: {len(kills)} SIGKILLs "
        f"({sum(k.during_startup for k in kills)} during start-up), {smsc.starts} starts; "
        f"kill phase {kill_phase:.1f} s, settle {settle_s:.1f} s, total {elapsed:.1f} s; "
        f"clean stop exit code {exit_code}",
        "route: connector to the sink (reaching the network is observed)"
        if network_observable
        else "route: LOOPBACK ([routing] unknown to this build): whether a message reached the "
        "network is NOT observable; the sink checks are skipped",
        f"clients: {SESSIONS} sessions (window {CLIENT_WINDOW}), {ledger.binds} binds "
        f"({ledger.bind_refusals} refused); submitted {len(ledger.sent_at)}: "
        f"{len(accepted)} got a message_id, {len(ledger.refused)} refused {refusals}, "
        f"{len(ledger.unanswered)} unanswered (in doubt)",
        f"final states (query_sm): {dict(states)}; not final {len(not_final)}",
        f"receipts at the client: {len(ledger.receipts)} for {len(receipts_by_id)} ids; "
        f"accepted without one {len(no_receipt)}; stat unlike query_sm {len(stat_mismatch)}; "
        f"changed when delivered again {len(receipt_changed)}",
        "  duplicates " + client_dups.summary(client_bounds, kills),
        f"in doubt (unanswered): stored anyway {len(stored_in_doubt)} (receipted), reached the "
        f"sink {len(reached_in_doubt)}; refused yet receipted {len(receipted_refused)}; "
        f"receipts for unknown numbers {len(receipted_unknown)}; other deliver_sm "
        f"{len(ledger.other_deliveries)}",
    ]
    if network_observable:
        report += [
            f"network (sink): {sum(len(c) for c in reached.values())} submit_sm for "
            f"{len(reached)} numbers; accepted never reached {len(never_reached)}; refused yet "
            f"reached {len(reached_refused)}; receipts acknowledged to the SMSC {sink_acked}; "
            f"unreadable lines {len(strange_sink_lines)}; {sink_summary}",
            "  duplicates " + sink_dups.summary(sink_bounds, kills),
        ]
    report.append(f"store (read-only after a clean stop): {store.summary()}")
    text = "\n".join(report)
    print("\n" + text)
    context = f"\n{text}\n--- SMSC log tail ---\n{smsc_log}"

    assert len(kills) >= KILLS, context
    assert len(accepted) > 1000, f"too little traffic to prove anything{context}"
    assert not ledger.accepted_twice, f"one message_id for two messages{context}"
    assert not not_final, f"accepted but not final, e.g. {not_final[:5]}{context}"
    assert not no_receipt, f"accepted without a receipt, e.g. {no_receipt[:5]}{context}"
    assert not stat_mismatch, f"receipt stat ≠ final state, e.g. {stat_mismatch[:5]}{context}"
    assert not receipt_changed, f"a redelivered receipt changed, e.g. {receipt_changed[:5]}"
    assert not receipted_refused and not receipted_unknown, context
    assert not client_dups.unexplained, f"duplicate receipts without a crash{context}"
    assert not client_over, f"more duplicate receipts than in flight{context}"
    assert not stray_receipts or stray_numbers <= ledger.unanswered, context
    if network_observable:
        assert not never_reached, f"accepted, never reached the network{context}"
        assert not reached_refused, f"refused, yet delivered{context}"
        assert not sink_dups.unexplained, f"delivered twice without a crash{context}"
        assert not sink_over, f"more duplicates at the network than in flight{context}"
        assert not strange_sink_lines, context
    if store.present:
        assert store.integrity == "ok", context
        assert not store.not_exactly_one_row, f"rows per accepted id ≠ 1{context}"
        assert not store.not_final, f"open in the store{context}"
        assert not store.not_owing_one_receipt, f"receipts owed ≠ 1{context}"
