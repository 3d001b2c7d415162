"""The demo IMPS phone of `opensmsc imps` (cli/imps.py): one simulated handset speaking PTS
(imps/pts.py) over binary SMS through a node's admin API, as a phone would.

Sending: a primitive is encoded, split into PTS segments of at most 133 octets (one SMS each)
and sent as the handset's MO to the IMPS short code, application port 3590 (`POST
/v1/network/handsets/{msisdn}/mo` with data_hex and port). Receiving: the handset's inbox
(`GET .../inbox`) is read and emptied; PTS segments on port 3590 are joined with
`pts.Assembler` (segments of a primitive not yet complete are kept in the client state), CIR
wake-ups on port 3716 decoded (`WVCI <version> <cookie>`, GSM 7-bit packed), plain SMS shown as
they are. Each primitive is printed on one line, decoded (`describe`). As a phone does, it
acknowledges a NewMessage (MessageDelivered, MA), answers a PresenceNotification with a Status
200, and answers a CIR wake-up with a Polling-Request.

What it is not: a real IMPS client. It keeps no contact list or presence of its own; it shows
what the service says.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from opensmsc.imps import (
    CIR_PORT,
    DATA_PORT,
    SEGMENT_OCTETS,
    Assembler,
    Primitive,
    PtsError,
    Status,
    Value,
    decode_wakeup,
    encode_helo,
)
from opensmsc.imps import encode as encode_primitive
from opensmsc.imps import parse as parse_primitive
from opensmsc.imps import split as split_primitive

__all__ = ["AVAILABILITY", "ClientState", "DemoPhone", "PhoneError", "describe"]

_SERVER_INITIATED: Final = frozenset({"NM", "PN", "DR", "DI"})
_POLL_INTERVAL: Final = 0.1  # seconds between two inbox reads while waiting for an answer
_SETTLE: Final = 0.5  # seconds to keep reading after the answer (pushes that follow it)
AVAILABILITY: Final = {"available": "AV", "away": "NA", "busy": "DI"}
_SHOWN_AVAILABILITY: Final = {"AV": "available", "NA": "away", "DI": "busy"}
# What answers each request (besides a Status, which may answer any of them).
_ANSWERS: Final = {
    "LR": {"RL"},
    "CP": {"PC"},
    "SQ": {"QS"},
    "KA": {"AK"},
    "GL": {"LG"},
    "LM": {"ML"},
    "GP": {"PG"},
    "SM": {"MS"},
    "GB": {"BL"},
}


class PhoneError(Exception):
    """The client state cannot be read."""


# ---- the client's state -------------------------------------------------------------------


@dataclass(slots=True)
class ClientState:
    """What the demo phone remembers between commands (module doc)."""

    session: str | None = None
    user: str | None = None
    transaction: int = 0  # the last one used
    held: list[str] = field(default_factory=list)  # PTS segments of incomplete primitives
    quiet: list[int] = field(default_factory=list)  # our acks, whose Status is not shown

    @classmethod
    def load(cls, path: Path) -> ClientState:
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise PhoneError(f"client state {path} unreadable: {exc}") from exc
        return cls(
            session=raw.get("session"),
            user=raw.get("user"),
            transaction=int(raw.get("transaction", 0)),
            held=list(raw.get("held", [])),
            quiet=[int(t) for t in raw.get("quiet", [])],
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        body = {
            "session": self.session,
            "user": self.user,
            "transaction": self.transaction,
            "held": self.held,
            "quiet": self.quiet[-50:],
        }
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(body, indent=2, ensure_ascii=False))
        temporary.replace(path)


# ---- the phone ------------------------------------------------------------------------------


class DemoPhone:
    """One handset speaking PTS through the node's admin API (module doc). `call(method,
    path, body)` is the admin API (cli/network.py); `sleep` and `clock` are time.sleep and
    time.monotonic (tests may pass their own)."""

    def __init__(
        self,
        handset: str,
        *,
        call: Callable[[str, str, dict[str, Any] | None], Any],
        state_path: Path,
        short_code: str = "3590",
        out: TextIO | None = None,
        wait: float = 15.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.handset = handset
        self._call = call
        self._state_path = state_path
        self.state = ClientState.load(state_path)
        self.short_code = short_code
        self._out = out or sys.stdout
        self._wait = wait
        self._sleep = sleep
        self._clock = clock
        self.received: list[Primitive] = []  # every primitive read, in order (for tests)
        self.texts: list[str] = []  # plain SMS read
        self.wakeups = 0

    # ---- sending ----------------------------------------------------------------------------

    def _print(self, line: str) -> None:
        print(line, file=self._out)

    def next_transaction(self) -> int:
        self.state.transaction = self.state.transaction % 999 + 1
        return self.state.transaction

    def request(self, code: str, *params: tuple[str, Value], session: bool = True) -> Primitive:
        """A primitive of ours: the next transaction, SI first when logged in."""
        given = list(params)
        if session and self.state.session is not None:
            given.insert(0, ("SI", self.state.session))
        return Primitive(code, self.next_transaction(), tuple(given))

    def send_text(self, text: str) -> None:
        """Send PTS text as the handset's MO to port 3590: one SMS per PTS segment."""
        for piece in split_primitive(text, SEGMENT_OCTETS):
            self._mo(piece.encode("utf-8"), DATA_PORT)

    def _mo(self, data: bytes, port: int) -> None:
        body = {
            "to": self.short_code,
            "data_hex": data.hex(),
            "port": port,
            "originator_port": port,
        }
        self._call("POST", f"/v1/network/handsets/{_quote(self.handset)}/mo", body)

    def send(self, primitive: Primitive, *, quiet: bool = False) -> None:
        text = encode_primitive(primitive)
        if quiet:
            self.state.quiet.append(primitive.transaction)
        else:
            self._print(f"> {text}")
        self.send_text(text)

    def exchange(self, primitive: Primitive) -> Primitive | None:
        """Send `primitive`, then read the inbox until its answer comes (printed with
        everything else that arrived) or `wait` passes (None)."""
        self.send(primitive)
        expected = _ANSWERS.get(primitive.code, set()) | {"ST"}
        polling = primitive.code == "PO"

        def answers(p: Primitive) -> bool:
            # A poll is answered by what waited, each in its own server transaction (NM, PN,
            # DR, DI), or by a Status in the poll's transaction when nothing waited.
            if polling and p.code in _SERVER_INITIATED:
                return True
            return p.transaction == primitive.transaction and p.code in expected

        return self.read_until(answers)

    def read_until(self, done: Callable[[Primitive], bool] | None) -> Primitive | None:
        deadline = self._clock() + self._wait
        found: Primitive | None = None
        settle_until: float | None = None
        while True:
            for primitive in self.read():
                if found is None and done is not None and done(primitive):
                    found = primitive
                    settle_until = self._clock() + _SETTLE
            now = self._clock()
            if done is None and now >= deadline:
                return None
            if settle_until is not None and now >= settle_until:
                return found
            if found is None and now >= deadline:
                self._print(f"no answer within {self._wait:g} s")
                return None
            self._sleep(_POLL_INTERVAL)

    # ---- receiving --------------------------------------------------------------------------

    def read(self) -> list[Primitive]:
        """Read and empty the inbox: print what arrived, answer what a phone answers."""
        path = f"/v1/network/handsets/{_quote(self.handset)}/inbox"
        inbox = self._call("GET", path, None)
        messages = list(inbox.get("messages", ()))
        if not messages:
            return []
        self._call("DELETE", f"{path}?count={len(messages)}", None)
        assembler = Assembler(timeout=3600.0)
        for held in self.state.held:
            assembler.feed(self.short_code, held, 0.0)
        still_held = list(self.state.held)
        got: list[Primitive] = []
        wake = False
        for message in messages:
            port = (message.get("port") or {}).get("destination")
            payload = bytes.fromhex(message["data_hex"])
            if port == CIR_PORT:
                try:
                    version, cookie = decode_wakeup(payload)
                except PtsError as exc:
                    self._print(f"< CIR (unreadable: {exc.detail})")
                    continue
                self._print(f"< CIR wake-up WVCI {version} {cookie}")
                self.wakeups += 1
                wake = True
                continue
            if port != DATA_PORT:
                text = message.get("text") or f"<{message['data_hex']}>"
                self.texts.append(text)
                self._print(f"< SMS from {message['originator']}: {text}")
                continue
            text = payload.decode("utf-8", "replace")
            try:
                whole = assembler.feed(self.short_code, text, 0.0)
            except PtsError as exc:
                self._print(f"< PTS segment refused: {exc.detail}")
                continue
            if whole is None:
                still_held.append(text)
                continue
            if whole != text:
                still_held = [h for h in still_held if not _same_group(h, text)]
            try:
                primitive = parse_primitive(whole)
            except PtsError as exc:
                self._print(f"< unreadable PTS ({exc.detail}): {whole}")
                continue
            got.append(primitive)
            self.received.append(primitive)
            self._on_primitive(primitive)
        self.state.held = still_held
        if wake and self.state.session is not None:
            # A wake-up: what waits comes with a Polling-Request (digest §5.4).
            self.send(self.request("PO"))
        self.save()
        return got

    def _on_primitive(self, primitive: Primitive) -> None:
        quiet = primitive.code == "ST" and primitive.transaction in self.state.quiet
        if not quiet:
            self._print(f"< {describe(primitive)}")
        if primitive.code == "RL" and _status(primitive) == Status.SUCCESSFUL:
            self.state.session = primitive.text("SI")
        elif (
            primitive.code == "DI"
            or (primitive.code == "ST" and _status(primitive) in (600, 601, 604))
        ) and primitive.session_id == self.state.session:
            self.state.session = None  # the server ended our session (not one we made up)
        elif primitive.code == "NM" and self.state.session is not None:
            message_id = primitive.text("MI")
            if message_id is not None:
                self.send(self.request("MA", ("MI", message_id)), quiet=True)
        elif primitive.code == "PN" and self.state.session is not None:
            # A server-initiated request: the client answers it with a Status.
            answer = Primitive(
                "ST",
                primitive.transaction,
                (("SI", self.state.session), ("ST", str(int(Status.SUCCESSFUL)))),
            )
            self.send(answer, quiet=True)

    def save(self) -> None:
        self.state.save(self._state_path)

    # ---- the verbs --------------------------------------------------------------------------

    def login(self, user: str, password: str, *, digest: bool = False, cir: bool = False) -> bool:
        """Log in (password, or the 4-way digest login), agree capabilities and services, and
        register for CIR wake-ups (HELO on port 3716). `cir`: ask for notify/get delivery
        (InitialDeliveryMethod N): what waits is announced by a CIR wake-up and fetched with
        a Polling-Request, rather than pushed."""
        self.state.session = None
        self.state.user = user
        if digest:
            # AIM LoginTransaction: a first LR without a password is answered 401 with a Nonce
            # and the DigestSchema; the second carries DigestBytes = base64(H(nonce + password)).
            challenge = self.exchange(
                self.request("LR", ("UI", user), ("CI", self.handset), session=False)
            )
            nonce = None if challenge is None else challenge.text("NO")
            if challenge is None or nonce is None:
                self.save()
                return False
            schema = challenge.text("DI") or challenge.text("SH") or "MD5"
            proof = _digest(schema, nonce, password)
            login = self.request(
                "LR", ("UI", user), ("DB", proof), ("CI", self.handset), session=False
            )
        else:
            login = self.request(
                "LR", ("UI", user), ("PW", password), ("CI", self.handset), session=False
            )
        answer = self.exchange(login)
        if answer is None or answer.code != "RL" or _status(answer) != Status.SUCCESSFUL:
            self.save()
            return False
        # Capabilities as AIM offers them: CIR by standalone SMS, pushed or notified delivery.
        delivery = "N" if cir else "P"
        capabilities = self.exchange(
            self.request(
                "CP", ("CA", (("CT", "MP"), ("SC", "SS"), ("ID", delivery), ("SB", "SMS")))
            )
        )
        services = self.exchange(self.request("SQ", ("AR", "T")))
        if self.state.session is not None:
            self._mo(encode_helo(self.state.session), CIR_PORT)
            self._print(f"> CIR HELO {self.state.session}")
        self.save()
        return capabilities is not None and services is not None

    def succeeded(self, answer: Primitive | None) -> bool:
        self.save()
        return answer is not None and _status(answer) in (None, 200, 201)


def _digest(schema: str, nonce: str, password: str) -> str:
    """AIM StandardPasswordDigest: base64 of MD5 or SHA-1 over nonce + password (ISO-8859-1)."""
    algorithm = "sha1" if schema.upper().startswith("SHA") else "md5"
    data = (nonce + password).encode("latin-1", errors="replace")
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode("ascii")


def _status(primitive: Primitive) -> int | None:
    value = primitive.get("ST")
    if isinstance(value, tuple):
        value = value[0] if value else None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _same_group(held: str, segment: str) -> bool:
    # Two segments of one primitive share the preamble up to the DD letters.
    return held.split(" ", 1)[0][:-2] == segment.split(" ", 1)[0][:-2]


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="+")


# ---- one line per primitive -----------------------------------------------------------------


def _plain(value: Value | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return "(" + ",".join(_plain(item) for item in value) + ")"


def _status_text(primitive: Primitive) -> str:
    value = primitive.get("ST")
    code = _status(primitive)
    if code is None:
        return _plain(value)
    known = next((status for status in Status if status == code), None)
    name = "unknown status" if known is None else known.description
    if isinstance(value, tuple) and len(value) > 1:
        name = _plain(value[1])
    return f"{code} {name}"


def _presence_text(entry: Value) -> str:
    """`(<user>,<PresenceSubList>)` as "alice: available "text"" (digest §5.2)."""
    if not isinstance(entry, tuple) or not entry:
        return _plain(entry)
    user = _plain(entry[0])
    attributes = entry[1:]
    if len(attributes) == 1 and isinstance(attributes[0], tuple):
        inner = attributes[0]
        if inner and all(isinstance(a, tuple) for a in inner):
            attributes = inner
    shown: list[str] = []
    for attribute in attributes:
        if not isinstance(attribute, tuple) or not attribute:
            continue
        name = _plain(attribute[0])
        value = _plain(attribute[-1])
        if name == "UA":
            shown.append(_SHOWN_AVAILABILITY.get(value, value))
        elif name == "OS":
            shown.append("online" if value == "T" else "offline")
        elif name == "ST":
            shown.append(json.dumps(value, ensure_ascii=False))
        else:
            shown.append(f"{name}={value}")
    return f"{user}: {' '.join(shown) or 'no presence'}"


def describe(primitive: Primitive) -> str:
    """One readable line for a primitive that arrived."""
    code, t = primitive.code, primitive.transaction
    head = f"{code}#{t}"
    match code:
        case "RL":
            if _status(primitive) == Status.SUCCESSFUL:
                return (
                    f"{head} logged in: session {_plain(primitive.get('SI'))}, "
                    f"keep-alive {_plain(primitive.get('KA'))} s"
                )
            nonce = primitive.get("NO")
            if _status(primitive) == Status.UNAUTHORIZED and nonce is not None:
                schema = _plain(primitive.get("DI") or primitive.get("SH"))
                return f"{head} digest challenge: nonce {_plain(nonce)} ({schema})"
            return f"{head} login refused: {_status_text(primitive)}"
        case "ST":
            return f"{head} status {_status_text(primitive)}"
        case "MS":
            return (
                f"{head} message sent: {_status_text(primitive)}, id {_plain(primitive.get('MI'))}"
            )
        case "NM":
            when = primitive.get("DT")
            return (
                f"{head} message from {_plain(primitive.get('SU'))}: "
                f"{json.dumps(_plain(primitive.get('MC')), ensure_ascii=False)}"
                f" (id {_plain(primitive.get('MI'))}{', ' + _plain(when) if when else ''})"
            )
        case "PN" | "PG":
            kind = "presence" if code == "PN" else "presence of"
            entries = primitive.items("PR")
            if entries and isinstance(entries[0], str):
                entries = (entries,)  # PR=(<user>,<attributes>): one user's presence
            shown = "; ".join(_presence_text(e) for e in entries) or "none"
            status = f" [{_status_text(primitive)}]" if primitive.get("ST") is not None else ""
            return f"{head} {kind}: {shown}{status}"
        case "DR":
            message_id = _plain(primitive.get("MI"))
            return f"{head} delivery report: message {message_id} {_status_text(primitive)}"
        case "DI":
            return f"{head} disconnected by the server {_status_text(primitive)}"
        case _:
            params = " ".join(
                f"{name}={_plain(value)}" for name, value in primitive.params if name != "SI"
            )
            return f"{head} {params}".rstrip()
