"""The node's live status: what `GET /v1/admin/status`, `/history`, `/events` and the session
tails answer (http/routes/admin_status.py StatusSource), and `opensmsc status` shows.

Everything here is read from what the services already count (app/metrics.py NodeMetrics: the
messages in and out, the store's queue, refusals; the session registry; the connectors' and
the webhook sender's status): nothing on a message's path counts twice. Rates come from a
sampler: once a second the totals of messages in and out are written into a ring of the last
hour; the rates are the difference over the last 10 s, the history the differences over each
10 s step. The ring is in memory: a restart starts it again.

What it is not: the routes, or the Prometheus exposition (app/metrics.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from opensmsc import __version__
from opensmsc.app.metrics import NodeMetrics, status_name
from opensmsc.engine import StoreAndForward
from opensmsc.http import PduFeed, SessionAmbiguous, WebhookSender
from opensmsc.smpp import BindMode, CommandId, MessageState, Pdu, PduError, Tag, decode, encode
from opensmsc.smsc import EsmeSession, SessionRegistry, TailReader, TappedFrame
from opensmsc.upstream import Connectors

__all__ = ["HISTORY_STEP", "NodeStatus", "iso"]

HISTORY_STEP: Final = 10  # seconds per history point, and the window of the rates
_RING: Final = 3600 + HISTORY_STEP + 1  # one sample a second: the last hour and a step
_OPEN_STATES: Final = (MessageState.SCHEDULED, MessageState.ENROUTE, MessageState.UNKNOWN)
_MODES: Final = {
    BindMode.TRANSMITTER: "tx",
    BindMode.RECEIVER: "rx",
    BindMode.TRANSCEIVER: "trx",
}


def iso(at: datetime | float) -> str:
    """ISO 8601 UTC with milliseconds and Z, from a datetime or a Unix time."""
    if not isinstance(at, datetime):
        at = datetime.fromtimestamp(at, UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclasses.dataclass(frozen=True, slots=True)
class _Sample:
    at: float  # Unix time
    accepted: int
    sent: int
    submitted: dict[str, int]  # by session id


class NodeStatus:
    """The StatusSource of one node; a service (start/stop) for its sampler."""

    name = "status sampler"

    def __init__(
        self,
        *,
        node: str,
        metrics: NodeMetrics,
        engine: StoreAndForward,
        sessions: SessionRegistry,
        connectors: Connectors,
        webhooks: WebhookSender | None,
        clock: Callable[[], float] = time.time,
        interval: float = 1.0,
        show_short_message: bool = False,
    ) -> None:
        self._node = node
        # STYLE §6: message content is redacted unless configured ([logging], as at start).
        self._show_text = show_short_message
        self._metrics = metrics
        self._engine = engine
        self._sessions = sessions
        self._connectors = connectors
        self._webhooks = webhooks
        self._clock = clock
        self._interval = interval
        self._started_at = clock()
        self._ring: deque[_Sample] = deque(maxlen=_RING)
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # ---- the service ----------------------------------------------------------------------------

    async def start(self) -> None:
        self.sample()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close(self) -> None:
        """Streams end from now on (the admin listener is stopping)."""
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            # On a fixed beat, so that a slow turn of the loop does not shift every later one.
            next_at += self._interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            self.sample()

    def sample(self) -> None:
        """Write the totals now into the ring (the sampler does, once a second)."""
        self._ring.append(
            _Sample(
                at=self._clock(),
                accepted=self._metrics.accepted_total(),
                sent=self._metrics.sent_total(),
                submitted={s.session_id: s.submitted for s in self._esme_sessions()},
            )
        )

    # ---- rates ----------------------------------------------------------------------------------

    def _pair(self, end: int) -> tuple[_Sample, _Sample] | None:
        """The samples HISTORY_STEP apart ending at index `end` (fewer when the ring is
        younger), or None with fewer than two samples."""
        ring = self._ring
        if end < 1:
            return None
        return ring[max(0, end - HISTORY_STEP)], ring[end]

    @staticmethod
    def _rate(before: int, after: int, seconds: float) -> float:
        return round(max(0, after - before) / seconds, 2) if seconds > 0 else 0.0

    def rates(self) -> dict[str, float]:
        pair = self._pair(len(self._ring) - 1)
        if pair is None:
            return {"in_per_s": 0.0, "out_per_s": 0.0}
        a, b = pair
        seconds = b.at - a.at
        return {
            "in_per_s": self._rate(a.accepted, b.accepted, seconds),
            "out_per_s": self._rate(a.sent, b.sent, seconds),
        }

    def history(self, minutes: int) -> Mapping[str, Any]:
        points: list[dict[str, Any]] = []
        end = len(self._ring) - 1
        for _ in range(minutes * 60 // HISTORY_STEP):
            pair = self._pair(end)
            if pair is None:
                break
            a, b = pair
            seconds = b.at - a.at
            points.append(
                {
                    "at": iso(b.at),
                    "in_per_s": self._rate(a.accepted, b.accepted, seconds),
                    "out_per_s": self._rate(a.sent, b.sent, seconds),
                }
            )
            end -= HISTORY_STEP
        points.reverse()
        return {"step_s": HISTORY_STEP, "points": points}

    # ---- the status -----------------------------------------------------------------------------

    async def status(self) -> Mapping[str, Any]:
        metrics = self._metrics
        depths = await metrics.depths()
        queue = {state.name.lower(): 0 for state in _OPEN_STATES}
        if depths is not None:
            for state, count in depths.states.items():
                queue[state.name.lower()] = count
        queue["uncommitted"] = self._engine.acceptor.pending
        now = self._clock()
        return {
            "node": self._node,
            "version": __version__,
            "started_at": iso(self._started_at),
            "uptime_s": round(now - self._started_at, 3),
            "draining": metrics.draining,
            "rates": self.rates(),
            "queue": queue,
            "sessions": self._session_rows(),
            "connectors": self._connector_rows(),
            "receipts_waiting": 0 if depths is None else sum(depths.receipts.values()),
            "webhooks_waiting": 0 if depths is None else depths.webhooks,
            "webhooks_in_flight": 0 if self._webhooks is None else self._webhooks.in_flight,
            "queue_age_s": round(metrics.depths_age, 1) if depths is not None else None,
            "errors": {
                status_name(status): count for status, count in sorted(metrics.refusals().items())
            },
        }

    def _esme_sessions(self) -> list[EsmeSession]:
        return [s for s in self._sessions if isinstance(s, EsmeSession)]

    def _session_rows(self) -> list[dict[str, Any]]:
        ring = self._ring
        before = ring[max(0, len(ring) - 1 - HISTORY_STEP)] if ring else None
        now = self._clock()
        rows = []
        for session in sorted(self._esme_sessions(), key=lambda s: (s.system_id, s.session_id)):
            used, size = session.window_use()
            throughput = 0.0
            if before is not None:
                # Since the sample 10 s ago, or since the session bound when that is later.
                start = before.submitted.get(session.session_id, 0)
                since = before.at
                if session.session_id not in before.submitted and session.bound_at is not None:
                    since = max(since, session.bound_at.timestamp())
                throughput = self._rate(start, session.submitted, max(now - since, 1.0))
            peer = session.peer
            rows.append(
                {
                    "id": session.session_id,
                    "system_id": session.system_id,
                    "mode": "" if session.bind_mode is None else _MODES[session.bind_mode],
                    "address": "" if peer is None else _address(peer),
                    "door": session.session_id.rsplit("-", 1)[0],
                    "bound_at": None if session.bound_at is None else iso(session.bound_at),
                    "window_used": used,
                    "window": size,
                    "throughput_per_s": throughput,
                    "submitted": session.submitted,
                    "delivered": session.delivered,
                    "refused": session.refused,
                }
            )
        return rows

    def _connector_rows(self) -> list[dict[str, Any]]:
        rows = []
        for connector in sorted(self._connectors, key=lambda c: c.name):
            status = connector.status()
            rows.append(
                {
                    "name": status.name,
                    "state": status.state.value,
                    "last_error": status.last_error,
                    "window_used": status.in_flight,
                    # Each of its sessions has the window: a pair has twice as many slots.
                    "window": connector.settings.window * max(1, len(status.sessions)),
                    "sent": status.submitted,
                    "failed": status.failed,
                    "queued": status.queued,
                    "bound_sessions": status.bound_sessions,
                }
            )
        return rows

    # ---- tails ----------------------------------------------------------------------------------

    def tail(self, session: str) -> PduFeed:
        sessions = self._esme_sessions()
        for candidate in sessions:
            if candidate.session_id == session:
                return _Feed(candidate.session_id, candidate.tail(), self._show_text)
        named = [s for s in sessions if s.system_id == session]
        if len(named) > 1:
            raise SessionAmbiguous(sorted(s.session_id for s in named))
        if not named:
            raise LookupError(session)
        return _Feed(named[0].session_id, named[0].tail(), self._show_text)


class _Feed:
    """A TailReader's frames, decoded for the tail stream (the reader's work, not the
    session's: smsc/tap.py)."""

    def __init__(self, session_id: str, reader: TailReader, show_text: bool) -> None:
        self._session_id = session_id
        self._reader = reader
        self._show_text = show_text

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def dropped(self) -> int:
        return self._reader.dropped

    @property
    def ended(self) -> str | None:
        return self._reader.ended

    async def next(self, timeout: float) -> list[Mapping[str, Any]]:
        return [_pdu(frame, self._show_text) for frame in await self._reader.frames(timeout)]

    def close(self) -> None:
        self._reader.close()


def _pdu(tapped: TappedFrame, show_text: bool) -> dict[str, Any]:
    frame = tapped.frame
    command_id = int.from_bytes(frame[4:8], "big")
    try:
        command = CommandId(command_id).name.lower()
    except ValueError:
        command = f"0x{command_id:08X}"
    out: dict[str, Any] = {
        "at": iso(tapped.at),
        "direction": tapped.direction,
        "command": command,
        "sequence": int.from_bytes(frame[12:16], "big"),
        "status": int.from_bytes(frame[8:12], "big"),
        "hex": frame.hex(),
    }
    try:
        pdu = decode(frame, strict=False).pdu
    except PduError as exc:
        out["fields"] = {}
        out["error"] = exc.message or str(exc)
        return out
    if not show_text:
        redacted = _redacted(pdu)
        if redacted is not pdu:
            pdu = redacted
            out["hex"] = encode(pdu, out["sequence"]).hex()
            out["redacted"] = True
    out["fields"] = {
        field.name: _json(getattr(pdu, field.name)) for field in dataclasses.fields(pdu)
    }
    return out


_FILLER: Final = 0x2A  # "*" in ASCII, Latin-1 and the GSM 7-bit alphabet


def _redacted(pdu: Pdu) -> Pdu:
    """The PDU with its message content (short_message, message_payload) replaced by as many
    filler octets: the lengths stay, the text does not; the same PDU when it has none."""
    changes: dict[str, Any] = {}
    short_message = getattr(pdu, "short_message", b"")
    if isinstance(short_message, bytes) and short_message:
        changes["short_message"] = bytes([_FILLER]) * len(short_message)
    tlvs = getattr(pdu, "tlvs", None)
    payload = None if tlvs is None else tlvs.get(Tag.MESSAGE_PAYLOAD)
    if isinstance(payload, bytes) and payload and tlvs is not None:
        changes["tlvs"] = tlvs.with_(Tag.MESSAGE_PAYLOAD, bytes([_FILLER]) * len(payload))
    return dataclasses.replace(pdu, **changes) if changes else pdu


def _json(value: object) -> Any:
    """A PDU field as JSON: octets as hex, enums by value, TLVs by tag, the rest by shape."""
    if value is None or isinstance(value, bool | int | float | str):
        return value.value if isinstance(value, enum.Enum) else value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, enum.Enum):
        return _json(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            # Tlvs: (tag, value) pairs
            return {f"0x{int(tag):04X}": _json(item) for tag, item in value}
        return [_json(item) for item in value]
    return str(value)


def _address(peer: tuple[str, int]) -> str:
    host, port = peer
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
