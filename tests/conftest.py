"""Shared fixtures: a real SMSC on 127.0.0.1 (port 0) and a raw SMPP test client (STYLE.md §7).

`smsc` is an SMSC started with `opensmsc.app.start()` on ephemeral plaintext and TLS ports, its
data (the self-signed certificate included) in `tmp_path`, with the accounts of `ACCOUNTS`.
`smsc_factory` starts one with other settings: `await smsc_factory(server={...}, accounts=[...])`.
Both stop the SMSC, and close every client they made, when the test ends.

`SmppTestClient` speaks SMPP with our own codec (`opensmsc.smpp` encode/decode/FrameBuffer) over
an asyncio stream, so a test can send any PDU, or any bytes at all, and read exactly what the
server answered. It answers enquire_link by itself and, unless told otherwise, deliver_sm too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import socket
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from opensmsc import app
from opensmsc.accounts.passwords import hash_password
from opensmsc.config import (
    AccountConfig,
    BindMode,
    Config,
    NodeConfig,
    PolicydConfig,
    SmppConfig,
    SmppServerConfig,
)
from opensmsc.config.model import HttpConfig
from opensmsc.smpp import (
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CommandId,
    Decoded,
    DeliverSmResp,
    EnquireLinkResp,
    FrameBuffer,
    Pdu,
    Request,
    SubmitSm,
    Unbind,
    decode,
    encode,
)

HOST = "127.0.0.1"
TIMEOUT = 5.0  # seconds a test client waits for an answer before the test fails

# The accounts every `smsc` has: (system_id, password, extra AccountConfig fields).
ACCOUNTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("esme1", "pw1", {}),
    ("esme2", "pw2", {}),
    ("txonly", "pwtx", {"bind_modes": (BindMode.TRANSMITTER,)}),
)
PASSWORDS = {system_id: password for system_id, password, _ in ACCOUNTS}

# What the test SMSC changes from the defaults: ephemeral ports on loopback, timers that cannot
# fire during a test unless it asks, and a bind-failure delay small enough to stay out of the way.
TEST_SERVER: dict[str, Any] = {
    "bind_address": HOST,
    "port": 0,
    "tls_port": 0,
    "enquire_link_interval": None,
    "inactivity_timeout": None,
    "session_init_timeout": 30.0,
    "unbind_drain_timeout": 1.0,
    "bind_failure_delay": 0.001,
    "bind_failure_max_delay": 0.01,
}

_cheap_hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@functools.cache
def password_hash(password: str) -> str:
    """`hash_password(password)`, computed once per test run (argon2 is slow by design)."""
    return hash_password(password)


def cheap_password_hash(password: str) -> str:
    """An argon2id hash with the smallest parameters: for tests that verify thousands of
    passwords. The parameters travel in the PHC string, so the server verifies it as any other."""
    return _cheap_hasher.hash(password)


def account(system_id: str, password: str, **fields: Any) -> AccountConfig:
    """An AccountConfig with `password` hashed; other fields as given."""
    fields.setdefault("password_hash", password_hash(password))
    return AccountConfig(system_id=system_id, **fields)


def make_config(
    data_dir: Path,
    *,
    server: dict[str, Any] | None = None,
    accounts: Iterable[AccountConfig] | None = None,
) -> Config:
    """The test configuration: `TEST_SERVER` updated with `server`; `ACCOUNTS` unless given."""
    if accounts is None:
        accounts = [account(s, p, **extra) for s, p, extra in ACCOUNTS]
    return Config(
        node=NodeConfig(data_dir=data_dir),
        smpp=SmppConfig(server=SmppServerConfig(**{**TEST_SERVER, **(server or {})})),
        accounts=tuple(accounts),
        http=HttpConfig(bind_address=HOST, port=0),  # the admin API on an ephemeral port
        policyd=PolicydConfig(bind_address=HOST, port=0),  # the policy server likewise
    )


# --------------------------------------------------------------------------- the test client


class ServerClosed(AssertionError):
    """The server closed the connection while the test waited for a PDU."""


class SmppTestClient:
    """A raw SMPP client over an asyncio stream, built on our codec.

    `send()` writes a PDU (any sequence_number), `send_raw()` any bytes; `request()` sends and
    waits for the response with the same sequence_number; `expect()` waits for the next PDU
    with a given command_id. PDUs read while waiting for another are kept in order and returned
    by a later `expect()`. enquire_link is answered at once; deliver_sm too when `auto_ack`.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        auto_ack: bool = True,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.auto_ack = auto_ack
        self.frames = FrameBuffer()
        self.pending: deque[Decoded] = deque()
        self.received: list[Decoded] = []  # every PDU read, in order
        self._sequence = itertools.count(1)
        self.eof = False

    @property
    def local_address(self) -> tuple[str, int]:
        host, port = self.writer.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def next_sequence(self) -> int:
        return next(self._sequence)

    # ---- writing -------------------------------------------------------------------------------

    async def send(self, pdu: Pdu, sequence_number: int | None = None) -> int:
        seq = self.next_sequence() if sequence_number is None else sequence_number
        await self.send_raw(encode(pdu, seq))
        return seq

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    # ---- reading -------------------------------------------------------------------------------

    async def _read_one(self) -> Decoded:
        while True:
            if self.pending:
                return self.pending.popleft()
            if self.eof:
                raise ServerClosed("the server closed the connection")
            data = await self.reader.read(65536)
            if not data:
                self.eof = True
                continue
            for frame in self.frames.feed(data):
                decoded = decode(frame)
                self.received.append(decoded)
                await self._answer_automatically(decoded)
                self.pending.append(decoded)

    async def _answer_automatically(self, decoded: Decoded) -> None:
        if decoded.command_id == CommandId.ENQUIRE_LINK:
            await self.send(EnquireLinkResp(), decoded.sequence_number)
        elif decoded.command_id == CommandId.DELIVER_SM and self.auto_ack:
            await self.send(DeliverSmResp(), decoded.sequence_number)

    async def read_pdu(self, timeout: float = TIMEOUT) -> Decoded:
        """The next PDU from the server (enquire_link included, already answered)."""
        async with asyncio.timeout(timeout):
            return await self._read_one()

    async def expect(
        self,
        command_id: int,
        *,
        sequence_number: int | None = None,
        timeout: float = TIMEOUT,
    ) -> Decoded:
        """The next PDU with this command_id (and sequence_number); others stay queued."""
        skipped: list[Decoded] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    decoded = await self._read_one()
                    if decoded.command_id == command_id and (
                        sequence_number is None or decoded.sequence_number == sequence_number
                    ):
                        return decoded
                    skipped.append(decoded)
        finally:
            self.pending.extendleft(reversed(skipped))

    async def request(self, pdu: Request, *, timeout: float = TIMEOUT) -> Decoded:
        """Send `pdu`; its response (or a generic_nack with its sequence_number)."""
        seq = await self.send(pdu)
        skipped: list[Decoded] = []
        try:
            async with asyncio.timeout(timeout):
                while True:
                    decoded = await self._read_one()
                    if decoded.sequence_number == seq and decoded.command_id in (
                        pdu.command_id | 0x80000000,
                        CommandId.GENERIC_NACK,
                    ):
                        return decoded
                    skipped.append(decoded)
        finally:
            self.pending.extendleft(reversed(skipped))

    async def wait_closed(self, timeout: float = TIMEOUT) -> list[Decoded]:
        """Read until the server closes the connection; the PDUs read on the way."""
        got: list[Decoded] = []
        async with asyncio.timeout(timeout):
            while True:
                try:
                    got.append(await self._read_one())
                except ServerClosed:
                    return got
                except (ConnectionError, ssl.SSLError):
                    self.eof = True
                    return got

    # ---- SMPP conveniences ---------------------------------------------------------------------

    async def bind(
        self,
        mode: str = "trx",
        system_id: str = "esme1",
        password: str | None = None,
        *,
        interface_version: int = 0x34,
        timeout: float = TIMEOUT,
    ) -> Decoded:
        """Send a bind; its response (whatever the status)."""
        cls = {"tx": BindTransmitter, "rx": BindReceiver, "trx": BindTransceiver}[mode]
        if password is None:
            password = PASSWORDS.get(system_id, "")
        pdu = cls(system_id=system_id, password=password, interface_version=interface_version)
        return await self.request(pdu, timeout=timeout)

    async def submit(self, timeout: float = TIMEOUT, **fields: Any) -> Decoded:
        fields.setdefault("source_addr", "12345")
        fields.setdefault("destination_addr", "31600000001")
        fields.setdefault("short_message", b"hello")
        return await self.request(SubmitSm(**fields), timeout=timeout)

    async def unbind(self, timeout: float = TIMEOUT) -> Decoded:
        return await self.request(Unbind(), timeout=timeout)

    async def close(self) -> None:
        if self.writer.is_closing():
            with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
                await asyncio.wait_for(self.writer.wait_closed(), 2.0)
            return
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 2.0)


# --------------------------------------------------------------------------- the test SMSC


@dataclass(slots=True)
class TestSmsc:
    """A running SMSC and what tests need to reach it."""

    running: app.RunningSmsc
    config: Config
    data_dir: Path
    clients: list[SmppTestClient] = field(default_factory=list)
    stopped: bool = False

    __test__ = False  # not a test class, whatever its name

    @property
    def port(self) -> int:
        return self.running.ports["smpp"]

    @property
    def tls_port(self) -> int:
        return self.running.ports["smpps"]

    @property
    def cert_path(self) -> Path:
        """The self-signed certificate the SMSC made at start (its CA for clients)."""
        return self.data_dir / "tls" / "smsc.crt"

    def client_tls_context(
        self,
        *,
        verify: bool = True,
        cert: Path | None = None,
        key: Path | None = None,
        maximum_version: ssl.TLSVersion | None = None,
    ) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            context.load_verify_locations(cafile=self.cert_path)
        else:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if cert is not None:
            context.load_cert_chain(cert, key)
        if maximum_version is not None:
            context.maximum_version = maximum_version
        return context

    async def connect(
        self,
        *,
        tls: bool = False,
        context: ssl.SSLContext | None = None,
        local_host: str | None = None,
        auto_ack: bool = True,
    ) -> SmppTestClient:
        """A client connected to the plaintext port, or to the TLS port with `tls`/`context`."""
        if context is None and tls:
            context = self.client_tls_context()
        port = self.tls_port if context is not None else self.port
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                HOST,
                port,
                ssl=context,
                server_hostname=HOST if context is not None else None,
                local_addr=(local_host, 0) if local_host else None,
                limit=1 << 20,
            ),
            TIMEOUT,
        )
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = SmppTestClient(reader, writer, auto_ack=auto_ack)
        self.clients.append(client)
        return client

    async def bound(
        self, mode: str = "trx", system_id: str = "esme1", *, tls: bool = False, **kwargs: Any
    ) -> SmppTestClient:
        """A client bound as `mode`; fails the test if the bind is refused."""
        client = await self.connect(tls=tls)
        resp = await client.bind(mode, system_id, **kwargs)
        assert resp.status == 0, f"bind {mode} {system_id}: status 0x{resp.status:08X}"
        return client

    def accepted_messages(self, system_id: str | None = None) -> int:
        """Messages the engine has taken. From every account: stored or waiting for their
        commit. From `system_id`: stored only, as what waits for its commit is counted for all
        accounts together and would mix in another account's traffic."""
        acceptor = self.running.engine.acceptor
        if system_id is not None:
            return acceptor.accepted[system_id]
        return sum(acceptor.accepted.values()) + acceptor.pending

    async def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        for client in self.clients:
            await client.close()
        await self.running.stop()


SmscFactory = Callable[..., Awaitable[TestSmsc]]


@pytest.fixture
async def smsc_factory(tmp_path: Path) -> AsyncIterator[SmscFactory]:
    """`await smsc_factory(server={...}, accounts=[...])`: a started SMSC, stopped at teardown.
    Each call gets its own data folder under tmp_path."""
    started: list[TestSmsc] = []

    async def start(
        *,
        server: dict[str, Any] | None = None,
        accounts: Iterable[AccountConfig] | None = None,
    ) -> TestSmsc:
        data_dir = tmp_path / f"smsc{len(started)}"
        data_dir.mkdir()
        config = make_config(data_dir, server=server, accounts=accounts)
        running = await app.start(config)
        handle = TestSmsc(running=running, config=config, data_dir=data_dir)
        started.append(handle)
        return handle

    yield start
    for handle in reversed(started):
        await handle.stop()


@pytest.fixture
async def smsc(smsc_factory: SmscFactory) -> TestSmsc:
    """An SMSC with the `ACCOUNTS`, plaintext and TLS listeners on ephemeral ports."""
    return await smsc_factory()
