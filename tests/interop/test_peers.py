"""Interoperability with real third-party SMPP peers (`../shared/peers/`, issue 4 "Tests").

smpplib, node-smpp, Net::SMPP, Kannel and Jasmin bind to one opensmsc as transmitter, receiver
and transceiver (tx+rx through a separate smpplib/node receiver, and Kannel's `--bind txrx`), on
plaintext and, where the peer has TLS, on TLS (verifying our self-signed certificate with
`--cafile`, or not at all with `--insecure`), and submit GSM 7-bit, UCS-2 and long messages
(UDH 8-bit and 16-bit references, SAR TLVs), waiting for every delivery receipt.

The SMSC runs in a thread with its own event loop for the whole module; every selected case is
started at once when the module starts (Jasmin's runs one after another: one jasmind per
machine), each under its own account so that receipts cannot cross between peers; each test
then waits for its case and checks the peer's JSON summary.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opensmsc import app
from opensmsc.config import NetworkConfig, NetworkMode, PrefixDefaultConfig
from tests.conftest import account, make_config
from tests.interop.peers import PEERS_DIR, PeerResult, PeerRun

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not PEERS_DIR.is_dir(), reason=f"no SMPP peers kit at {PEERS_DIR}"),
]

PASSWORD = "interop"
CAFILE = "{cafile}"  # replaced by the path of the SMSC's self-signed certificate
PEER_TIMEOUT = 150.0  # seconds; the scripts' own --timeout is below this
Check = Callable[[dict[str, Any]], None]


# --------------------------------------------------------------------------- checks


def check_submits(d: dict[str, Any]) -> None:
    """smpplib, node-smpp, Net::SMPP: bound, every submit_sm accepted, unique message_ids."""
    assert d["ok"] is True, d["errors"]
    assert d["bound"] is True
    assert d["bind_status"] == "0x00000000"
    assert d["smsc_system_id"] == "opensmsc"
    assert d["submitted"] > 0
    assert d["submit_resp_ok"] == d["submitted"]
    assert d["submit_resp_error"] == 0
    assert d["submit_resp_missing"] == 0
    assert d["generic_nack"] == 0
    assert d.get("message_ids_unique", True) is True
    assert d["unbind"] == "0x00000000"


def check_waited_receipts(d: dict[str, Any]) -> None:
    """...and one receipt per accepted part, each quoting its message_id exactly as
    submit_sm_resp gave it."""
    check_submits(d)
    assert d["receipts_expected"] == d["submitted"]
    assert d["receipts"] == d["receipts_expected"]
    assert d["receipt_stats"] == {"DELIVRD": d["receipts"]}
    match = d["receipt_id_match"]
    assert match["exact"] == d["receipts"], match
    assert match["unmatched"] == 0
    assert match["missing_id"] == 0


def check_transmitter(d: dict[str, Any]) -> None:
    """The tx half of a tx+rx pair: receipts go to the receiver, none here."""
    check_submits(d)
    assert d["bind"] == "tx"
    assert d["receipts"] == 0


def receiver_check(expected: int) -> Check:
    def check(d: dict[str, Any]) -> None:
        assert d["ok"] is True, d["errors"]
        assert d["bound"] is True
        assert d["bind"] == "rx"
        assert d["receipts"] == expected
        assert d["receipt_stats"] == {"DELIVRD": expected}
        assert d["receipt_message_states"] == {"2": expected}
        assert d["unbind"] == "0x00000000"

    return check


def check_kannel(d: dict[str, Any]) -> None:
    """Kannel asks one receipt per message (on its first part) and calls back only for the
    receipts it could match to a message it sent: matching is by our message_id."""
    assert d["ok"] is True, d["errors"]
    assert d["bound"] is True
    assert d["sendsms_accepted"] == d["messages"]
    assert d["submit_resp_ok"] == d["messages"]
    assert d["submit_resp_error"] == 0
    assert d["receipts_expected"] == d["messages"]
    assert d["receipts"] == d["receipts_expected"]
    assert d["receipt_stats"] == {"DELIVRD": d["receipts"]}


def check_jasmin(d: dict[str, Any]) -> None:
    assert d["ok"] is True, d["errors"]
    assert d["bound"] is True
    assert d["http_accepted"] == d["messages"]
    assert d["submit_resp_ok"] == d["messages"]
    assert d["submit_resp_error"] == 0
    assert d["receipts"] == d["receipts_expected"]
    if d["receipts_expected"]:
        assert d["receipt_stats"] == {"DELIVRD": d["receipts"]}
        assert d["receipt_id_smsc_sample"]


# --------------------------------------------------------------------------- the matrix


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    script: str
    args: tuple[str, ...]
    check: Check
    tls: bool = False
    # A receiver started beside it under the same account: (script, args, its check).
    receiver: tuple[str, tuple[str, ...], Check] | None = None
    group: str | None = None  # runs of one group go one after another


def _client_cases(peer: str, script: str) -> list[Case]:
    wait = ("--wait-receipts", "--receipt-timeout", "30", "--timeout", "90")
    rx = ("--bind", "rx", "--receipt-timeout", "60", "--timeout", "90")
    return [
        Case(f"{peer}-trx-gsm7", script, ("--count", "5", *wait), check_waited_receipts),
        Case(f"{peer}-trx-ucs2", script, ("--ucs2", "--count", "3", *wait), check_waited_receipts),
        Case(
            f"{peer}-trx-long-udh",
            script,
            ("--long", "--concat", "udh", "--count", "2", *wait),
            check_waited_receipts,
        ),
        Case(
            f"{peer}-trx-long-ucs2-udh16",
            script,
            ("--long", "--ucs2", "--concat", "udh16", "--count", "2", *wait),
            check_waited_receipts,
        ),
        Case(
            f"{peer}-trx-long-sar",
            script,
            ("--long", "--concat", "sar", "--count", "2", *wait),
            check_waited_receipts,
        ),
        Case(
            f"{peer}-tls-cafile-trx-long-ucs2-sar",
            script,
            ("--tls", "--cafile", CAFILE, "--long", "--ucs2", "--concat", "sar", *wait),
            check_waited_receipts,
            tls=True,
        ),
        Case(
            f"{peer}-tls-insecure-trx-gsm7",
            script,
            ("--tls", "--insecure", "--count", "3", *wait),
            check_waited_receipts,
            tls=True,
        ),
        Case(
            f"{peer}-tx-and-rx",
            script,
            ("--bind", "tx", "--count", "4", "--dlr", "--timeout", "90"),
            check_transmitter,
            receiver=(script, (*rx, "--expect-receipts", "4"), receiver_check(4)),
        ),
        Case(
            f"{peer}-tls-tx-and-rx",
            script,
            ("--tls", "--cafile", CAFILE, "--bind", "tx", "--ucs2", "--count", "3", "--dlr"),
            check_transmitter,
            tls=True,
            receiver=(
                script,
                ("--tls", "--insecure", *rx, "--expect-receipts", "3"),
                receiver_check(3),
            ),
        ),
    ]


def _netsmpp_cases() -> list[Case]:
    wait = ("--wait-receipts", "--receipt-timeout", "30", "--timeout", "90")
    script = "netsmpp-client.sh"
    return [
        Case("netsmpp-trx-gsm7", script, ("--count", "5", *wait), check_waited_receipts),
        Case("netsmpp-trx-ucs2", script, ("--ucs2", "--count", "3", *wait), check_waited_receipts),
        Case("netsmpp-trx-long", script, ("--long", "--count", "2", *wait), check_waited_receipts),
        Case(
            "netsmpp-trx-long-ucs2",
            script,
            ("--long", "--ucs2", "--count", "2", *wait),
            check_waited_receipts,
        ),
    ]


# Kannel and Jasmin each open several listening ports (picked free, then bound): run them one
# after another so that two of them cannot race for the same port.
DAEMONS = "kannel-and-jasmin"


def _kannel_cases() -> list[Case]:
    wait = ("--wait-receipts", "--receipt-timeout", "15", "--timeout", "120")
    script = "kannel-client.sh"
    return [
        Case("kannel-trx-gsm7", script, ("--count", "3", *wait), check_kannel, group=DAEMONS),
        Case(
            "kannel-trx-long-ucs2",
            script,
            ("--long", "--ucs2", "--count", "2", *wait),
            check_kannel,
            group=DAEMONS,
        ),
        # tx and rx binds: the receipt for a message arrives on the receiver while the
        # transmitter's submit_sm_resp for it must already have been handled.
        Case(
            "kannel-txrx-gsm7",
            script,
            ("--bind", "txrx", "--count", "20", *wait),
            check_kannel,
            group=DAEMONS,
        ),
        Case(
            "kannel-tls-cafile-trx-long",
            script,
            ("--tls", "--cafile", CAFILE, "--long", "--count", "2", *wait),
            check_kannel,
            tls=True,
            group=DAEMONS,
        ),
        Case(
            "kannel-tls-cafile-txrx-ucs2",
            script,
            ("--tls", "--cafile", CAFILE, "--bind", "txrx", "--ucs2", "--count", "3", *wait),
            check_kannel,
            tls=True,
            group=DAEMONS,
        ),
    ]


def _jasmin_cases() -> list[Case]:
    wait = ("--wait-receipts", "--receipt-timeout", "30", "--timeout", "120")
    script = "jasmin-client.sh"
    return [
        Case("jasmin-trx-gsm7", script, ("--count", "3", *wait), check_jasmin, group=DAEMONS),
        Case(
            "jasmin-tls-trx-long-ucs2",
            script,
            ("--tls", "--long", "--ucs2", "--count", "2", *wait),
            check_jasmin,
            tls=True,
            group=DAEMONS,
        ),
        Case(
            "jasmin-tx-long-sar",
            script,
            (
                "--bind",
                "tx",
                "--long",
                "--concat",
                "sar",
                "--count",
                "2",
                "--dlr",
                "--timeout",
                "120",
            ),
            check_jasmin,
            group=DAEMONS,
        ),
    ]


CASES = [
    *_client_cases("smpplib", "smpplib-client.sh"),
    *_client_cases("node", "node-client.sh"),
    *_netsmpp_cases(),
    *_kannel_cases(),
    *_jasmin_cases(),
]
CASES_BY_ID = {case.id: case for case in CASES}
assert len(CASES_BY_ID) == len(CASES), "case ids must be unique"


# --------------------------------------------------------------------------- the SMSC thread


class SmscThread:
    """opensmsc in a thread of its own (its own event loop), so that the peers run as plain
    subprocesses while the tests wait for them one by one."""

    def __init__(self, data_dir: Path, system_ids: list[str]) -> None:
        config = make_config(
            data_dir, accounts=[account(system_id, PASSWORD) for system_id in system_ids]
        )
        # A handset answers after some milliseconds, as a real network does. With none, the
        # receipt of a message can reach a peer with separate transmitter and receiver binds
        # (Kannel's txrx) before it has read the submit_sm_resp on the other connection, and
        # Kannel drops such a receipt ("got DLR but could not find message"): 3 runs in 10.
        network = NetworkConfig(
            mode=NetworkMode.REALISTIC,
            prefix_defaults=(PrefixDefaultConfig(prefix="", latency="fixed:50"),),
        )
        self.config = dataclasses.replace(config, network=network)
        self.data_dir = data_dir
        self.ports: dict[str, int] = {}
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="opensmsc", daemon=True)

    @property
    def cert_path(self) -> Path:
        return self.data_dir / "tls" / "smsc.crt"

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(60):
            raise TimeoutError("opensmsc did not start within 60 s")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        running = await app.start(self.config)
        self.ports = dict(running.ports)
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await running.stop()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        assert not self._thread.is_alive(), "opensmsc did not stop within 30 s"
        if self._error is not None:
            raise self._error


# --------------------------------------------------------------------------- running the cases


@dataclass(slots=True)
class Outcome:
    main: PeerResult
    receiver: PeerResult | None = None


@dataclass(slots=True)
class Launcher:
    smsc: SmscThread
    system_ids: dict[str, str]
    futures: dict[str, concurrent.futures.Future[Outcome]] = field(default_factory=dict)
    runs: list[PeerRun] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=threading.Event)

    def _args(self, case_args: tuple[str, ...], case: Case) -> list[str]:
        port = self.smsc.ports["smpps" if case.tls else "smpp"]
        args = [a.replace(CAFILE, str(self.smsc.cert_path)) for a in case_args]
        return [
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--system-id",
            self.system_ids[case.id],
            "--password",
            PASSWORD,
            *args,
        ]

    def _run_case(self, case: Case) -> Outcome:
        receiver: PeerRun | None = None
        if case.receiver is not None:
            script, args, _ = case.receiver
            receiver = PeerRun(script, self._args(args, case), timeout=PEER_TIMEOUT)
            self.runs.append(receiver)
            receiver.start()
        main = PeerRun(case.script, self._args(case.args, case), timeout=PEER_TIMEOUT)
        self.runs.append(main)
        main.start()
        return Outcome(main.result(), receiver.result() if receiver is not None else None)

    def _run_group(self, cases: list[Case]) -> None:
        for case in cases:
            future = self.futures[case.id]
            if self.cancelled.is_set() or not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self._run_case(case))
            except BaseException as exc:
                future.set_exception(exc)

    def launch(self, cases: list[Case]) -> list[threading.Thread]:
        groups: dict[str, list[Case]] = {}
        for case in cases:
            self.futures[case.id] = concurrent.futures.Future()
            groups.setdefault(case.group or case.id, []).append(case)
        threads = [
            threading.Thread(target=self._run_group, args=(group,), name=f"peer-{name}")
            for name, group in groups.items()
        ]
        for thread in threads:
            thread.start()
        return threads


def _selected_cases(request: pytest.FixtureRequest) -> list[Case]:
    """The cases of the tests pytest is about to run (all of them, or what -k/-m kept)."""
    ids = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is request.module and callspec is not None and "case" in callspec.params:
            ids.append(callspec.params["case"].id)
    return [CASES_BY_ID[case_id] for case_id in dict.fromkeys(ids)]


@pytest.fixture(scope="module")
def launcher(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Launcher]:
    system_ids = {case.id: f"peer{index:02d}" for index, case in enumerate(CASES)}
    smsc = SmscThread(tmp_path_factory.mktemp("interop-smsc"), sorted(system_ids.values()))
    smsc.start()
    launcher = Launcher(smsc=smsc, system_ids=system_ids)
    threads = launcher.launch(_selected_cases(request))
    try:
        yield launcher
    finally:
        launcher.cancelled.set()
        for run in list(launcher.runs):
            run.stop()
        for thread in threads:
            thread.join(PEER_TIMEOUT)
        smsc.stop()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_peer(case: Case, launcher: Launcher) -> None:
    outcome = launcher.futures[case.id].result(timeout=280)
    for result, check in (
        (outcome.receiver, case.receiver[2] if case.receiver else None),
        (outcome.main, case.check),
    ):
        if result is None or check is None:
            continue
        assert result.summary is not None, result.describe()
        try:
            check(result.summary)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{result.describe()}") from exc
        assert result.returncode == 0, result.describe()
