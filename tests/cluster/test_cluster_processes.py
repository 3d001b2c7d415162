"""The scale-out proof at the process level (issue 14): node processes started as `make cluster`
starts them (`LocalCluster`: `opensmsc run` per node on the machine's PostgreSQL and NATS,
HAProxy in front), driven by real SMPP clients, with the single-node crash test's clients,
ledger and checks (tests/durability).

1. a receipt made on node A reaches the account's receiver bound on node B only;
2. kill -9 one node of three under load, then another: every accepted message ends final with
   its receipt, duplicates bounded by the deliver window in flight at each kill;
3. NATS, then PostgreSQL, restarted under load: refused submits are ESME_RSYSERR or
   ESME_RMSGQFUL only, nothing accepted is lost, new submits succeed afterwards by themselves;
4. an account's throughput cap holds within 5% across three nodes offered uneven load.

Each test has its own `[cluster] name` (schema and NATS buckets, dropped at the end) and free
ports; `-s` shows the figures.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import itertools
import random
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from opensmsc.cli.admin_client import AdminClient
from opensmsc.cli.local_cluster import LocalCluster
from opensmsc.smpp import (
    CommandId,
    CommandStatus,
    DeliverSm,
    receipt_from_pdu,
    stat_for_state,
)
from opensmsc.store import FINAL_STATES
from tests import postgres_server
from tests.cluster.processes import (
    PASSWORD,
    SYSTEM_ID,
    accounts_toml,
    log_tails,
    nats_pid,
    running_cluster,
    smpp_port,
    start_nats,
    start_postgres,
    stop_nats,
    stop_postgres,
)
from tests.conftest import SmppTestClient
from tests.durability.esme import Ledger, SessionRunner, final_state, query_all
from tests.durability.test_crash import Duplicates

pytestmark = [pytest.mark.durability, pytest.mark.timeout(240)]

WINDOW = 20  # the account's window: submit_sm in flight per client session
DELIVER_WINDOW = 10  # smpp.server.window (default): receipts in flight per session
SETTLE_TIMEOUT = 60.0


# ---- helpers ---------------------------------------------------------------------------------


async def _connect(port: int) -> SmppTestClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return SmppTestClient(reader, writer)


async def _wait(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await asyncio.to_thread(condition)
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _receivers_on(cluster: LocalCluster, seen_from: int, node_id: str) -> bool:
    """Whether node `seen_from`'s membership view has a receiver of the account on `node_id`."""
    with contextlib.suppress(Exception):
        body = AdminClient(cluster.layout.admin_url(seen_from)).call("GET", "/v1/admin/cluster")
        for node in body["nodes"]:
            if node["node_id"] == node_id:
                return bool(node["sessions"].get(SYSTEM_ID, {}).get("receivers"))
    return False


async def _settle(ledger: Ledger, timeout: float = SETTLE_TIMEOUT, quiet: float = 3.0) -> float:
    """Until every accepted message has a receipt (bounded), then `quiet` more seconds for
    late duplicates; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        receipted = {r.message_id for r in ledger.receipts}
        if all(m in receipted for m in ledger.accepted.values()):
            break
        await asyncio.sleep(0.25)
    await asyncio.sleep(quiet)
    return time.monotonic() - started


@dataclass
class Outcome:
    """The crash test's checks over one run's ledger (tests/durability/test_crash.py)."""

    lines: list[str]
    failures: list[str]
    duplicates: Duplicates


async def _check(
    ledger: Ledger,
    port: int,
    store: dict[str, list[int]],
    events: list[tuple[float, float]],
    bounds: list[int] | None,
) -> Outcome:
    """Query every accepted message through `port`; receipts, duplicates (each attributed to
    the first event (a kill, an outage: (began, ended), time.time(), in order) that had not
    ended when the earlier copy went and had begun when the later did; beyond `bounds[event]`
    fails), refusals, and
    the store's rows (`store`: message_id → states of its MT rows)."""
    accepted_ids = set(ledger.accepted.values())
    queried = await query_all(
        port, SYSTEM_ID, PASSWORD, ledger, sorted(ledger.by_id), window=WINDOW
    )
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
        receipts_by_id[r.message_id].append((0, r.at))
        contents[r.message_id].add(r.content)
        stats[r.message_id].add(r.stat)
    no_receipt = sorted(m for m in accepted_ids if m not in receipts_by_id)
    changed = sorted(m for m, c in contents.items() if len(c) > 1)
    stat_mismatch = sorted(
        m
        for m in accepted_ids
        if (s := final_state(queried[m]) if m in queried else None) is not None
        and stats.get(m)
        and stats[m] != {stat_for_state(s)}
    )
    stray_numbers = {
        r.number for r in ledger.receipts if r.message_id not in accepted_ids and r.number
    }
    receipted_refused = stray_numbers & set(ledger.refused)
    receipted_unknown = stray_numbers - ledger.unanswered - set(ledger.refused)
    duplicates = Duplicates()
    for m, copies in receipts_by_id.items():
        _attribute(duplicates, m, [at for _, at in copies], events)
    rows_not_one = sorted(m for m in accepted_ids if len(store.get(m, ())) != 1)
    rows_open = sorted(
        m for m in accepted_ids if any(s not in FINAL_STATES for s in store.get(m, ()))
    )
    refusals = dict(collections.Counter(_status(st) for st in ledger.refused.values()))
    lines = [
        f"clients: {ledger.binds} binds ({ledger.bind_refusals} refused); submitted "
        f"{len(ledger.sent_at)}: {len(ledger.accepted)} got a message_id, {len(ledger.refused)} "
        f"refused {refusals}, {len(ledger.unanswered)} unanswered (in doubt), of which stored "
        f"anyway {len(stray_numbers & ledger.unanswered)}",
        f"final states (query_sm): {dict(states)}; not final {len(not_final)}",
        f"receipts: {len(ledger.receipts)} for {len(receipts_by_id)} ids; accepted without one "
        f"{len(no_receipt)}; stat unlike query_sm {len(stat_mismatch)}; changed when sent again "
        f"{len(changed)}; for refused {len(receipted_refused)}, unknown {len(receipted_unknown)}",
        f"store: accepted ids without exactly one MT row {len(rows_not_one)}, open "
        f"{len(rows_open)}",
    ]
    if bounds is not None:
        lines.append("duplicates " + duplicates.summary(bounds, [None] * len(events)))  # type: ignore[list-item]
    else:
        lines.append(
            f"duplicates {duplicates.total} (per event {dict(duplicates.per_kill)}, without an "
            f"event {len(duplicates.unexplained)})"
        )
    over = {} if bounds is None else duplicates.over(bounds)
    checks: Iterable[tuple[bool, str]] = (
        (
            bool(ledger.accepted_twice),
            f"one message_id for two messages {ledger.accepted_twice[:3]}",
        ),
        (bool(not_final), f"accepted but not final, e.g. {not_final[:5]}"),
        (bool(no_receipt), f"accepted without a receipt, e.g. {no_receipt[:5]}"),
        (bool(stat_mismatch), f"receipt stat ≠ final state, e.g. {stat_mismatch[:5]}"),
        (bool(changed), f"a receipt sent again changed, e.g. {changed[:5]}"),
        (bool(receipted_refused or receipted_unknown), "a receipt for a refused/unknown number"),
        (bool(duplicates.unexplained), f"duplicates without an event {duplicates.unexplained[:3]}"),
        (bool(rows_not_one), f"accepted ids without exactly one MT row, e.g. {rows_not_one[:5]}"),
        (bool(rows_open), f"accepted ids still open in the store, e.g. {rows_open[:5]}"),
        (
            bool(over),
            f"more duplicates than in flight after events {over}",
        ),
    )
    failures = [what for failed, what in checks if failed]
    return Outcome(lines, failures, duplicates)


def _attribute(
    duplicates: Duplicates, key: object, times: list[float], events: list[tuple[float, float]]
) -> None:
    """Each copy beyond the first, to the event that explains it (a crash or an outage that
    may have lost the record of the earlier copy's acknowledgement), or to none."""
    ends = [ended for _, ended in events]
    for earlier, later in itertools.pairwise(sorted(times)):
        k = bisect.bisect_left(ends, earlier)
        if k < len(events) and events[k][0] <= later:
            duplicates.per_kill[k] += 1
            duplicates.ages.append(events[k][0] - earlier)
        else:
            duplicates.unexplained.append((key, earlier, later))


def _status(status: int) -> str:
    with contextlib.suppress(ValueError):
        return CommandStatus(status).name
    return f"0x{status:08X}"


async def _mt_rows(schema: str) -> dict[str, list[int]]:
    """message_id → the states of its MT rows, read from the cluster's schema."""
    conn = await asyncpg.connect(postgres_server.DSN, timeout=10)
    try:
        rows = await conn.fetch(
            f'SELECT message_id, state FROM "{schema}".message WHERE direction = 1'
        )
    finally:
        await conn.close()
    out: dict[str, list[int]] = collections.defaultdict(list)
    for row in rows:
        out[row["message_id"]].append(row["state"])
    return out


@contextlib.asynccontextmanager
async def _clients(runners: list[SessionRunner], stop: asyncio.Event):  # type: ignore[no-untyped-def]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        yield tasks
    finally:
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ---- 1. a receipt crosses nodes ----------------------------------------------------------------


async def test_a_receipt_made_on_one_node_reaches_the_receiver_bound_on_another(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running_cluster(tmp_path / "cluster", nodes=2) as cluster:
        receiver = await _connect(smpp_port(cluster, 2))
        transmitter = await _connect(smpp_port(cluster, 1))
        try:
            assert (await receiver.bind("rx", SYSTEM_ID, PASSWORD)).status == 0
            assert (await transmitter.bind("tx", SYSTEM_ID, PASSWORD)).status == 0
            # Node A knows B has the receiver (membership, once a second), so the receipt A
            # makes is B's to send: A wakes B through NATS.
            await _wait(lambda: _receivers_on(cluster, 1, "node-2"), "node-1 to see the receiver")
            # The first receipt waits for node-2's two beats after the bind (wakeups.py); the
            # 20 timed below show the steady state: stored on node-1, woken on node-2.
            first = await transmitter.submit(registered_delivery=1, short_message=b"first")
            assert first.status == 0
            await receiver.expect(CommandId.DELIVER_SM, timeout=15)
            sent: dict[str, float] = {}
            for i in range(20):
                resp = await transmitter.submit(
                    destination_addr=f"316{i:08d}", registered_delivery=1, short_message=b"x"
                )
                assert resp.status == 0
                sent[resp.pdu.message_id] = time.monotonic()  # type: ignore[union-attr]
            latencies: dict[str, float] = {}
            while len(latencies) < len(sent):
                decoded = await receiver.expect(CommandId.DELIVER_SM, timeout=15)
                assert isinstance(decoded.pdu, DeliverSm)
                info = receipt_from_pdu(decoded.pdu)
                assert info is not None and info.message_id in sent
                latencies.setdefault(info.message_id, time.monotonic() - sent[info.message_id])
            ordered = sorted(latencies.values())
            print(
                f"\ncross-node receipts: {len(latencies)}/{len(sent)} submitted on node-1 "
                f"reached the receiver on node-2; latency p50 {ordered[len(ordered) // 2]:.3f} s,"
                f" max {ordered[-1]:.3f} s"
            )
            assert not transmitter.eof
        finally:
            await receiver.close()
            await transmitter.close()


# ---- 2. kill -9 two nodes of three under load --------------------------------------------------

SESSIONS = 6
RATE = 60.0  # submits per second per client session


@dataclass(frozen=True)
class Kill:
    node: int
    at: float  # time.time()
    sessions_bound: int


async def test_nothing_accepted_is_lost_when_two_nodes_of_three_are_killed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random()
    async with running_cluster(tmp_path / "cluster", nodes=3) as cluster:
        port = cluster.layout.smpp_port  # HAProxy: a client of a dead node reconnects elsewhere
        ledger, stop = Ledger(), asyncio.Event()
        runners = [
            SessionRunner(ledger, i, port, SYSTEM_ID, PASSWORD, WINDOW, RATE, stop)
            for i in range(SESSIONS)
        ]
        kills: list[Kill] = []
        started = time.monotonic()
        async with _clients(runners, stop):
            for node in rng.sample([1, 2, 3], 2):
                await asyncio.sleep(5.0)
                bound = sum(1 for r in runners if r.session is not None and r.session.is_bound)
                await asyncio.to_thread(cluster.kill, node)
                ledger.kills += 1
                kills.append(Kill(node, time.time(), bound))
            await asyncio.sleep(5.0)  # traffic on the last node alone
            ledger.submitting = False
            await asyncio.sleep(0.5)  # the last submit_sm_resp
            load_s = time.monotonic() - started
            settle_s = await _settle(ledger)
            store = await _mt_rows(cluster.layout.name)
            # The receipts a kill may send twice: those in flight (deliver window per session).
            bounds = [DELIVER_WINDOW * max(k.sessions_bound, 1) for k in kills]
            outcome = await _check(ledger, port, store, [(k.at, k.at) for k in kills], bounds)
        report = [
            f"\nkill -9 of nodes {[k.node for k in kills]} of 3 under load: {SESSIONS} sessions "
            f"through HAProxy at {RATE:.0f}/s each; load {load_s:.1f} s "
            f"({len(ledger.accepted) / load_s:.0f} accepted/s), settle {settle_s:.1f} s; "
            f"{ledger.binds} binds",
            *outcome.lines,
        ]
        print("\n".join(report))
        context = "\n".join(report) + "\n" + log_tails(cluster)
        assert len(ledger.accepted) > 1000, f"too little traffic to prove anything{context}"
        assert not outcome.failures, f"{outcome.failures}{context}"


# ---- 3. NATS, then PostgreSQL, restarted under load ------------------------------------------

OUTAGE = 3.0  # seconds each service is away
NODE_TTL = 5.0  # [cluster] node_ttl (the default)
RECONNECT = 4.0  # JetStream ready again, the nodes reconnected (0.5 s waits), a beat or two
# What a submit may be answered while the store is away (STYLE §4: never a message_id).
STORE_AWAY = {int(CommandStatus.ESME_RSYSERR), int(CommandStatus.ESME_RMSGQFUL)}


async def _recovered(ledger: Ledger, since: float, timeout: float = 30.0) -> float:
    """Seconds from `since` (time.time()) until a submit sent after it got a message_id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(ledger.sent_at[n] > since for n in ledger.accepted if n in ledger.sent_at):
            return time.time() - since
        await asyncio.sleep(0.1)
    raise AssertionError(f"no submit accepted within {timeout:.0f} s after the restart")


async def test_nats_and_postgresql_restarted_under_load_lose_nothing_accepted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running_cluster(tmp_path / "cluster", nodes=3) as cluster:
        port = cluster.layout.smpp_port
        ledger, stop = Ledger(), asyncio.Event()
        runners = [
            SessionRunner(ledger, i, port, SYSTEM_ID, PASSWORD, WINDOW, 50.0, stop)
            for i in range(4)
        ]
        outages: dict[str, tuple[float, float]] = {}  # service → (down at, up at), time.time()
        recovery: dict[str, float] = {}
        try:
            async with _clients(runners, stop):
                for service, down, up in (
                    ("NATS", stop_nats, start_nats),
                    ("PostgreSQL", stop_postgres, start_postgres),
                ):
                    await asyncio.sleep(4.0)
                    began = time.time()
                    await asyncio.to_thread(down)
                    try:
                        await asyncio.sleep(OUTAGE)
                    finally:
                        await asyncio.to_thread(up)
                    outages[service] = (began, time.time())
                    recovery[service] = await _recovered(ledger, time.time())
                await asyncio.sleep(3.0)  # traffic after both
                ledger.submitting = False
                await asyncio.sleep(0.5)
                settle_s = await _settle(ledger)
                store = await _mt_rows(cluster.layout.name)
                # Receipts sent twice must have an outage to explain them: an acknowledgement
                # not recorded while the store was away; or, with NATS away, nodes that have not
                # heard from each other for node_ttl each sending the account's receipts alone
                # (docs/scaling.md), until they have all reconnected and seen each other again.
                events = sorted(
                    (began, ended + (NODE_TTL + RECONNECT if service == "NATS" else 0.0))
                    for service, (began, ended) in outages.items()
                )
                outcome = await _check(ledger, port, store, events, None)
        finally:
            # Whatever happened: the machine's services are left running.
            await asyncio.to_thread(start_nats_if_down)
            await asyncio.to_thread(start_postgres_if_down)
        alive = [node for node, proc in cluster.nodes.items() if proc.poll() is None]

        def phase(number: int) -> str:
            at = ledger.sent_at.get(number, 0.0)
            for service, (began, ended) in outages.items():
                if began - 0.5 <= at <= ended + 2.0:
                    return service
            return "otherwise"

        refusals: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        for number, status in ledger.refused.items():
            refusals[phase(number)][_status(status)] += 1
        accepted_in = collections.Counter(phase(n) for n in ledger.accepted)
        report = [
            f"\nNATS then PostgreSQL away {OUTAGE:.0f} s each under load (4 sessions through "
            f"HAProxy at 50/s each): accepted during/just after each outage "
            f"{dict(accepted_in)}; refused { ({k: dict(v) for k, v in refusals.items()}) }; first "
            f"submit accepted after each restart in "
            f"{ ({k: round(v, 2) for k, v in recovery.items()}) } s; settle {settle_s:.1f} s; "
            f"nodes alive at the end {alive}",
            *outcome.lines,
        ]
        print("\n".join(report))
        context = "\n".join(report) + "\n" + log_tails(cluster)
        wrong = {_status(s) for s in ledger.refused.values() if s not in STORE_AWAY}
        assert not wrong, f"submits refused with {wrong}{context}"
        assert not refusals["NATS"] and not refusals["otherwise"], (
            f"refused while the store was there{context}"
        )
        assert alive == [1, 2, 3], f"a node died{context}"
        assert len(ledger.accepted) > 1000, f"too little traffic to prove anything{context}"
        assert not outcome.failures, f"{outcome.failures}{context}"


def start_nats_if_down() -> None:
    if nats_pid() is None:
        start_nats()


def start_postgres_if_down() -> None:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", 5432), 0.5):
        return
    start_postgres()


# ---- 4. a cluster-wide throughput cap ----------------------------------------------------------

CAP = 150.0  # the account's throughput, msg/s over all its sessions on every node
OFFERED = {1: 160.0, 2: 80.0, 3: 25.0}  # msg/s offered on each node's own port: uneven
WARMUP, MEASURE = 4.0, 10.0


async def test_an_accounts_throughput_cap_holds_within_5_percent_across_three_nodes(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    extra = accounts_toml(throughput=CAP)
    async with running_cluster(tmp_path / "cluster", nodes=3, extra_config=extra) as cluster:
        stop = asyncio.Event()
        ledgers = {node: Ledger() for node in OFFERED}
        runners = [
            SessionRunner(
                ledgers[node], node, smpp_port(cluster, node), SYSTEM_ID, PASSWORD, WINDOW,
                rate, stop,
            )
            for node, rate in OFFERED.items()
        ]  # fmt: skip
        async with _clients(runners, stop):
            await asyncio.sleep(WARMUP)  # the nodes exchange their demand (a beat a second)
            before = {node: len(ledger.accepted) for node, ledger in ledgers.items()}
            started = time.monotonic()
            await asyncio.sleep(MEASURE)
            after = {node: len(ledger.accepted) for node, ledger in ledgers.items()}
            elapsed = time.monotonic() - started
            for ledger in ledgers.values():
                ledger.submitting = False
        rates = {node: (after[node] - before[node]) / elapsed for node in OFFERED}
        total = sum(rates.values())
        refused = {
            node: dict(collections.Counter(_status(s) for s in ledger.refused.values()))
            for node, ledger in ledgers.items()
        }
        report = (
            f"\nthroughput cap {CAP:.0f} msg/s, offered {sum(OFFERED.values()):.0f} msg/s as "
            f"{ {f'node-{n}': r for n, r in OFFERED.items()} } on each node's own port: accepted "
            f"{total:.1f} msg/s over {elapsed:.1f} s ({(total / CAP - 1) * 100:+.1f}% of the cap),"
            f" by node { {f'node-{n}': round(r, 1) for n, r in rates.items()} }; refused "
            f"{ {f'node-{n}': r for n, r in refused.items()} }"
        )
        print(report)
        context = report + "\n" + log_tails(cluster)
        assert abs(total - CAP) <= 0.05 * CAP, f"the cap does not hold{context}"
        # The quiet node gets what it offers: the busy ones share the rest.
        assert rates[3] >= 0.9 * OFFERED[3], f"the quiet node was starved{context}"
        assert all(
            s == CommandStatus.ESME_RTHROTTLED
            for ledger in ledgers.values()
            for s in ledger.refused.values()
        ), context
