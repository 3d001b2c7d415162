"""PTS, the compact text encoding of IMPS CSP primitives over SMS, sans-IO (digest §5.2, §5.3).

What it is: the preamble `WV<version><code><transaction>[<segment id>]`, the `CODE=value`
parameters with their quoting and nested lists, the DD segmentation of a primitive across SMS
(`split`) and its reassembly (`Assembler`), as Android's AIM client speaks them
(PtsPrimitiveParser/Serializer.java, SmsSplitter.java, SmsAssembler.java).
What it is not: what a primitive means, which parameters it needs, sessions or users (that is
`imps.service`); SMS ports and UDH (that is the binding). No I/O, no clock: time comes in as `now`.

Grammar decisions beyond AIM (docs/imps.md "Wire format"):
- the empty string is written `""`; the empty list `()` (AIM rejects `()`, never needing it);
  `("")` is a list holding one empty string. Inside a list an unquoted empty element, as AIM
  writes a contact without a nickname `(,alice)`, reads as `""`. At the top level `XX=` with
  nothing after it is an error: there the empty string must be quoted.
- parameters are separated by exactly one space; names are upper-cased; a name may
  repeat (AIM's Login writes one `SH=` per digest schema): `Primitive.values` reads every one.
- a Primitive keeps its parameters in wire order; `encode` writes them in that order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from opensmsc.errors import OpensmscError

from .codes import TRANSACTIONS, Status, describe

Value = str | tuple["Value", ...]
"""A PTS value: a string or a (nested) list of values."""

VERSIONS = ("11", "12", "13", "XX")  # "XX": version discovery (AIM PtsPrimitiveParser)
MAX_TRANSACTION = 999
MAX_SEGMENTS = 26  # DD letters a..z (AIM SmsSplitter.MAX_SEGMENT_COUNT)
# One PTS segment per SMS: 140 octets of 8-bit user data less the 16-bit application port UDH
# (UDHL, IEI 0x05, IEDL, two 2-octet ports: 7 octets; TS 23.040 §9.2.3.24.4).
SEGMENT_OCTETS = 133
MAX_DEPTH = 16  # list nesting; AIM's deepest structure (presence) needs 5
_SPECIAL = frozenset(' ",()=&')  # AIM PtsPrimitiveSerializer.sCharsToBeQuoted
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
# A session id readable from text that failed to parse, for the error answer to carry.
_SESSION = re.compile(r'(?:^|(?<= ))SI=("(?:[^"]|"")*"|[^ ,()"=&]+)')


class PtsError(OpensmscError):
    """Bad PTS from a peer: `status` is the CSP status to answer with, `detail` says what and
    where. `code`, `transaction` and `session_id` are set when the text was readable that far,
    so that the answer can name the transaction and session."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        transaction: int | None = None,
        session_id: str | None = None,
    ) -> None:
        self.status = int(status)
        self.detail = detail
        self.code = code
        self.transaction = transaction
        self.session_id = session_id
        super().__init__(str(self))

    def __str__(self) -> str:
        name = describe(self.status)
        where = ""
        if self.code is not None:
            where = (
                f"{self.code}: " if self.transaction is None else f"{self.code}{self.transaction}: "
            )
        return f"{where}{self.detail} ({self.status} {name})"


def _check_value(value: object, depth: int = 0) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, tuple):
        raise ValueError(f"a PTS value is a str or a tuple, got {type(value).__name__}")
    if depth >= MAX_DEPTH:
        raise ValueError(f"lists nest deeper than {MAX_DEPTH}")
    for item in value:
        _check_value(item, depth + 1)


@dataclass(frozen=True, slots=True)
class Primitive:
    """One IMPS primitive: `WV<version><code><transaction> NAME=value ...`.

    Raises ValueError when built with a code not in `codes.TRANSACTIONS`, a transaction
    outside 0..999, an unknown version, a parameter name that is not upper-case ASCII
    letters and digits, or a value that is neither str nor tuple: those are
    bugs of the caller, not of a peer (parse raises PtsError for the same faults).
    """

    code: str
    transaction: int
    params: tuple[tuple[str, Value], ...] = ()
    version: str = "12"
    _index: dict[str, Value] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.code not in TRANSACTIONS:
            raise ValueError(f"unknown transaction code {self.code!r}")
        if isinstance(self.transaction, bool) or not 0 <= self.transaction <= MAX_TRANSACTION:
            raise ValueError(f"transaction must be 0..{MAX_TRANSACTION}, got {self.transaction}")
        if self.version not in VERSIONS:
            raise ValueError(f"version must be one of {VERSIONS}, got {self.version!r}")
        index: dict[str, Value] = {}
        for name, value in self.params:
            if not _NAME.fullmatch(name) or name != name.upper():
                raise ValueError(f"parameter name {name!r} is not upper-case letters and digits")
            _check_value(value)
            # A name may repeat (AIM writes one `SH=` per digest schema it offers): the index
            # answers the first; `values` gives them all.
            index.setdefault(name, value)
        object.__setattr__(self, "_index", index)

    def get(self, name: str) -> Value | None:
        """The value of parameter `name` (any case), None when absent."""
        return self._index.get(name.upper())

    def text(self, name: str) -> str | None:
        """The string value of `name`, None when absent. PtsError(402) when it is a list."""
        value = self._index.get(name.upper())
        if isinstance(value, tuple):
            raise self.error(Status.BAD_PARAMETER, f"{name.upper()} must be one value, not a list")
        return value

    def items(self, name: str) -> tuple[Value, ...]:
        """The list value of `name`; a bare string is a list of one (digest §5.2: "a list with
        one element may be written without parentheses"); () when absent."""
        value = self._index.get(name.upper())
        if value is None:
            return ()
        return value if isinstance(value, tuple) else (value,)

    def values(self, name: str) -> tuple[Value, ...]:
        """Every value given for `name`, in wire order (a name may repeat); () when absent."""
        wanted = name.upper()
        return tuple(value for key, value in self.params if key == wanted)

    @property
    def session_id(self) -> str | None:
        """The SI parameter. PtsError(402) when it is a list."""
        value = self._index.get("SI")
        if isinstance(value, tuple):
            raise PtsError(
                Status.BAD_PARAMETER,
                "SI must be one value, not a list",
                code=self.code,
                transaction=self.transaction,
            )
        return value

    def error(self, status: int, detail: str) -> PtsError:
        """A PtsError about this primitive, naming its code, transaction and session."""
        session = self._index.get("SI")
        return PtsError(
            status,
            detail,
            code=self.code,
            transaction=self.transaction,
            session_id=session if isinstance(session, str) else None,
        )


# --- the preamble -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Preamble:
    version: str
    code: str  # upper-case
    transaction: int
    segment: str | None  # the DD letters, None when unsegmented
    end: int  # offset just past the preamble (at the space, or the end of the text)


def _session_in(text: str) -> str | None:
    match = _SESSION.search(text)
    if match is None:
        return None
    value = match.group(1)
    return value[1:-1].replace('""', '"') if value.startswith('"') else value


def _read_preamble(text: str, *, known_code: bool = True) -> _Preamble:
    """The preamble of `text` (digest §5.5 regex, read step by step for specific errors)."""
    session = _session_in(text)
    if not text.startswith("WV"):
        raise PtsError(
            Status.BAD_REQUEST,
            f"not a PTS primitive: starts {text[:8]!r}, not 'WV'",
            session_id=session,
        )
    version = text[2:4]
    if not (version == "XX" or (len(version) == 2 and version.isascii() and version.isdigit())):
        raise PtsError(
            Status.BAD_REQUEST,
            f"preamble offset 2: version {version!r} is not two digits or XX",
            session_id=session,
        )
    code = text[4:6]
    if len(code) != 2 or not (code.isascii() and code.isalpha()):
        raise PtsError(
            Status.BAD_REQUEST,
            f"preamble offset 4: transaction code {code!r} is not two letters",
            session_id=session,
        )
    code = code.upper()
    end = 6
    while end < len(text) and text[end].isascii() and text[end].isdigit():
        end += 1
    digits = text[6:end]
    if not digits:
        raise PtsError(
            Status.INVALID_TRANSACTION_ID,
            f"preamble offset 6: no transaction id after {text[:6]!r}",
            code=code,
            session_id=session,
        )
    if (len(digits) > 1 and digits[0] == "0") or int(digits) > MAX_TRANSACTION:
        raise PtsError(
            Status.INVALID_TRANSACTION_ID,
            f"preamble offset 6: transaction id {digits!r} is not 0..{MAX_TRANSACTION} "
            "without leading zeros",
            code=code,
            session_id=session,
        )
    transaction = int(digits)
    segment = None
    if text[end : end + 2].isascii() and text[end : end + 2].isalpha() and end + 2 <= len(text):
        segment = text[end : end + 2]
        end += 2
    if end < len(text) and text[end] != " ":
        raise PtsError(
            Status.BAD_REQUEST,
            f"preamble offset {end}: unexpected {text[end]!r} (a space must follow the preamble)",
            code=code,
            transaction=transaction,
            session_id=session,
        )
    if version != "XX" and version not in VERSIONS:
        raise PtsError(
            Status.VERSION_NOT_SUPPORTED,
            f"version {version} is not one of 11, 12, 13, XX",
            code=code,
            transaction=transaction,
            session_id=session,
        )
    if known_code and code not in TRANSACTIONS:
        # 501 rather than 405: the primitive itself is unknown to us, like an unknown HTTP
        # method; 405 "Service not supported" is for a known request whose service (feature)
        # the server does not offer, which the service decides, not the codec.
        raise PtsError(
            Status.NOT_IMPLEMENTED,
            f"unknown transaction code {code}",
            code=code,
            transaction=transaction,
            session_id=session,
        )
    return _Preamble(version, code, transaction, segment, end)


# --- parameters ---------------------------------------------------------------------------


class _Reader:
    """The parameter text after the preamble; errors name the offset in the whole text."""

    def __init__(self, text: str, preamble: _Preamble, session: str | None) -> None:
        self.text = text
        self.pos = preamble.end
        self.preamble = preamble
        self.session = session

    def fail(self, detail: str, status: int = Status.BAD_REQUEST) -> PtsError:
        return PtsError(
            status,
            detail,
            code=self.preamble.code,
            transaction=self.preamble.transaction,
            session_id=self.session,
        )

    def params(self) -> Iterator[tuple[str, Value]]:
        text = self.text
        while self.pos < len(text):
            # here text[pos] == " " (the preamble and every value end at a space or the end)
            self.pos += 1
            start = self.pos
            match = _NAME.match(text, start)
            if match is None:
                shown = repr(text[start]) if start < len(text) else "the end"
                raise self.fail(f"offset {start}: expected a parameter name, found {shown}")
            name = match.group().upper()
            self.pos = match.end()
            if self.pos >= len(text) or text[self.pos] != "=":
                raise self.fail(f"offset {self.pos}: parameter {name} has no '='")
            self.pos += 1
            if self.pos >= len(text) or text[self.pos] == " ":
                raise self.fail(
                    f'offset {self.pos}: parameter {name} has no value (the empty string is "")'
                )
            value = self.value(0, name)
            if self.pos < len(text) and text[self.pos] != " ":
                raise self.fail(
                    f"offset {self.pos}: unexpected {text[self.pos]!r} after the value of {name}"
                    + (" (unbalanced parentheses)" if text[self.pos] == ")" else "")
                )
            yield name, value

    def value(self, depth: int, name: str) -> Value:
        text = self.text
        pos = self.pos
        char = text[pos] if pos < len(text) else ""
        if char == "(":
            if depth >= MAX_DEPTH:
                raise self.fail(f"offset {pos}: lists in {name} nest deeper than {MAX_DEPTH}")
            open_at = pos
            self.pos += 1
            if self.pos < len(text) and text[self.pos] == ")":
                self.pos += 1
                return ()
            items: list[Value] = []
            while True:
                items.append(self.value(depth + 1, name))
                if self.pos >= len(text):
                    raise self.fail(
                        f"offset {self.pos}: the list of {name} opened at offset {open_at} "
                        "is not closed (unbalanced parentheses)"
                    )
                char = text[self.pos]
                self.pos += 1
                if char == ")":
                    return tuple(items)
                if char != ",":
                    raise self.fail(
                        f"offset {self.pos - 1}: expected ',' or ')' in the list of {name} "
                        f"opened at offset {open_at}, found {char!r}"
                        + (" (unbalanced parentheses)" if char == " " else "")
                    )
        if char == '"':
            return self.quoted(name)
        return self.bare(depth, name)

    def quoted(self, name: str) -> str:
        text = self.text
        open_at = self.pos
        chunks = []
        pos = open_at + 1
        while True:
            close = text.find('"', pos)
            if close < 0:
                raise self.fail(
                    f"offset {open_at}: the quoted value of {name} is not closed (broken quoting)"
                )
            chunks.append(text[pos:close])
            if text.startswith('""', close):
                chunks.append('"')
                pos = close + 2
                continue
            self.pos = close + 1
            if self.pos < len(text) and text[self.pos] not in " ,)":
                raise self.fail(
                    f"offset {self.pos}: {text[self.pos]!r} after the closing quote of {name}'s "
                    f"value opened at offset {open_at} (broken quoting: a quote inside a value "
                    'is doubled "")'
                )
            return "".join(chunks)

    def bare(self, depth: int, name: str) -> str:
        text = self.text
        start = pos = self.pos
        while pos < len(text) and text[pos] not in " ,)":
            if text[pos] in _SPECIAL:
                what = "a quote" if text[pos] == '"' else repr(text[pos])
                raise self.fail(
                    f"offset {pos}: {what} inside the unquoted value of {name} "
                    "(broken quoting: such a value must be quoted)"
                )
            pos += 1
        if depth == 0 and pos < len(text) and text[pos] in ",)":
            raise self.fail(
                f"offset {pos}: unexpected {text[pos]!r} in the value of {name}"
                + (" (unbalanced parentheses)" if text[pos] == ")" else " (quote it)")
            )
        self.pos = pos
        return text[start:pos]


def parse(text: str) -> Primitive:
    """One whole (reassembled) PTS primitive.

    Raises PtsError: 400 for text that is not PTS, broken quoting, unbalanced parentheses or a
    segment (reassemble with `Assembler` first); 420 for a transaction id outside 0..999 or
    with leading zeros; 505 for a version other than 11, 12, 13, XX; 501 for a transaction
    code not in `codes.TRANSACTIONS`. A parameter may be given more than once (AIM's Login
    offers each digest schema as its own `SH=`): `Primitive.values` reads them all.
    """
    preamble = _read_preamble(text)
    session = _session_in(text)
    if preamble.segment is not None:
        raise PtsError(
            Status.BAD_REQUEST,
            f"preamble offset {preamble.end - 2}: segment {preamble.segment} of a split "
            "primitive (reassemble it first)",
            code=preamble.code,
            transaction=preamble.transaction,
            session_id=session,
        )
    reader = _Reader(text, preamble, session)
    params = list(reader.params())
    return Primitive(preamble.code, preamble.transaction, tuple(params), preamble.version)


def _encode_value(value: Value) -> str:
    if isinstance(value, tuple):
        return "(" + ",".join(_encode_value(item) for item in value) + ")"
    if not value:
        return '""'
    if _SPECIAL.isdisjoint(value):
        return value
    return '"' + value.replace('"', '""') + '"'


def encode(primitive: Primitive) -> str:
    """The canonical PTS text of `primitive`: `parse(encode(p)) == p`."""
    parts = [f"WV{primitive.version}{primitive.code}{primitive.transaction}"]
    parts.extend(f"{name}={_encode_value(value)}" for name, value in primitive.params)
    return " ".join(parts)


# --- segmentation -------------------------------------------------------------------------


def split(text: str, max_octets: int = SEGMENT_OCTETS) -> list[str]:
    """DD segmentation (digest §5.3, AIM SmsSplitter): `[text]` when its UTF-8 fits in
    `max_octets`, else pieces `<preamble><DD> <slice>` of at most `max_octets` octets each,
    where DD is 'a'+index, 'a'+(count-1) and the slices, joined, are the text after the
    preamble's space. Unlike AIM, a slice never ends inside a UTF-8 character.

    `text` is one encoded primitive (ValueError otherwise, or when `max_octets` leaves no
    room for a character). PtsError(400) when it would need more than 26 pieces.
    """
    data = text.encode("utf-8")
    if len(data) <= max_octets:
        return [text]
    preamble = _read_preamble(text, known_code=False)  # ours: PtsError here is a bug upstream
    if preamble.segment is not None or preamble.end >= len(text):
        raise ValueError(f"cannot split {text[:20]!r}: already a segment, or no parameters")
    head = text[: preamble.end]
    budget = max_octets - len(head) - 3  # DD and the space
    if budget < 4:  # the longest UTF-8 character
        raise ValueError(f"max_octets {max_octets} leaves {budget} octets for parameters")
    body = data[preamble.end + 1 :]
    slices: list[bytes] = []
    start = 0
    while start < len(body):
        end = min(start + budget, len(body))
        while end < len(body) and (body[end] & 0xC0) == 0x80:  # a continuation octet
            end -= 1
        slices.append(body[start:end])
        start = end
    if len(slices) > MAX_SEGMENTS:
        raise PtsError(
            Status.BAD_REQUEST,
            f"{len(data)} octets need {len(slices)} segments of at most {max_octets} octets; "
            f"PTS allows {MAX_SEGMENTS}",
            code=preamble.code,
            transaction=preamble.transaction,
            session_id=_session_in(text),
        )
    last = chr(ord("a") + len(slices) - 1)
    return [
        f"{head}{chr(ord('a') + i)}{last} {piece.decode('utf-8')}" for i, piece in enumerate(slices)
    ]


def missing_segments(preamble: str) -> PtsError:
    """The error to answer for a group `Assembler.expire` dropped (408 Request timeout).

    `preamble` is the one expire reports (`WV12SM7`): its code and transaction are named.
    """
    try:
        read = _read_preamble(preamble, known_code=False)
    except PtsError:
        return PtsError(Status.REQUEST_TIMEOUT, f"{preamble}: segments missing")
    return PtsError(
        Status.REQUEST_TIMEOUT,
        "segments missing: the primitive was not completed in time",
        code=read.code,
        transaction=read.transaction,
    )


@dataclass(slots=True)
class _Group:
    preamble: str  # without DD
    total: int
    deadline: float
    segments: list[str | None]
    octets: int = 0
    received: int = 0


class Assembler:
    """Reassembly of DD segments (AIM SmsAssembler), keyed by (sender, transaction).

    A group must complete within `timeout` seconds of its first segment; `expire` drops
    late ones. At most `max_pending` groups are held (a new group evicts the oldest) and a
    group holds at most `max_octets` octets of UTF-8, so memory is bounded whatever peers
    send. A segment that contradicts its group (another total, another preamble, different
    text for an index already held, too many octets) ends the group and raises PtsError(400):
    the client's whole transaction fails and its retry starts afresh.
    """

    def __init__(
        self, *, timeout: float = 120.0, max_pending: int = 10_000, max_octets: int = 26 * 160
    ) -> None:
        if timeout <= 0 or max_pending < 1 or max_octets < 1:
            raise ValueError("timeout, max_pending and max_octets must be positive")
        self._timeout = timeout
        self._max_pending = max_pending
        self._max_octets = max_octets
        self._groups: dict[tuple[str, int], _Group] = {}  # insertion order = age order
        self._evicted: list[tuple[str, str]] = []

    @property
    def pending(self) -> int:
        """Groups waiting for segments."""
        return len(self._groups)

    def feed(self, sender: str, text: str, now: float) -> str | None:
        """The whole primitive text once `text` completes it, else None.

        Text that is not a segment (no DD letters after the transaction) comes back at once,
        unchecked: `parse` judges it. Raises PtsError for a segment whose preamble is
        unreadable (400, or 420 for the transaction), whose index is beyond its total (400),
        or that contradicts its group (400, the group dropped).
        """
        if not _is_segment(text):
            return text
        read = _read_preamble(text, known_code=False)
        assert read.segment is not None  # _is_segment saw the two letters
        head = text[: read.end - 2]
        index = ord(read.segment[0]) - ord("a")
        total = ord(read.segment[1]) - ord("a") + 1

        def fail(detail: str) -> PtsError:
            return PtsError(
                Status.BAD_REQUEST,
                f"segment {read.segment}: {detail}",
                code=read.code,
                transaction=read.transaction,
                session_id=_session_in(text),
            )

        if not ("a" <= read.segment[0] <= "z" and "a" <= read.segment[1] <= "z"):
            raise fail("segment identifiers are lower-case letters a..z")
        if index >= total:
            raise fail(f"index {index + 1} is beyond the total of {total}")
        if read.end >= len(text):
            raise fail("no space and payload after the preamble")
        payload = text[read.end + 1 :]
        size = len(payload.encode("utf-8"))
        key = (sender, read.transaction)
        group = self._groups.get(key)
        if group is not None and group.deadline <= now:
            # timed out, not yet collected by expire: dropped all the same, so that what
            # completes does not depend on when expire runs
            self._remember_evicted(sender, self._groups.pop(key).preamble)
            group = None
        if group is None:
            if total == 1:
                return f"{head} {payload}"
            while len(self._groups) >= self._max_pending:
                oldest = next(iter(self._groups))
                self._remember_evicted(oldest[0], self._groups.pop(oldest).preamble)
            group = _Group(head, total, now + self._timeout, [None] * total)
            self._groups[key] = group
        elif group.total != total or group.preamble != head:
            del self._groups[key]
            raise fail(
                f"says {head} of {total} segments, but {group.preamble} of {group.total} "
                "segments is pending for this transaction"
            )
        held = group.segments[index]
        if held is not None:
            if held == payload:
                return None  # the same SMS again: a redelivery
            del self._groups[key]
            raise fail(f"segment {index + 1} of {total} arrived twice with different text")
        if group.octets + size > self._max_octets:
            del self._groups[key]
            raise fail(f"the primitive exceeds {self._max_octets} octets")
        group.segments[index] = payload
        group.octets += size
        group.received += 1
        if group.received < total:
            return None
        del self._groups[key]
        return f"{head} " + "".join(s for s in group.segments if s is not None)

    def expire(self, now: float) -> list[tuple[str, str]]:
        """(sender, preamble without DD) of the groups dropped since the last call, oldest
        first: those whose `timeout` passed by `now`, those `max_pending` evicted and those
        a late segment found timed out. Answer each with `missing_segments(preamble)`."""
        dropped, self._evicted = self._evicted, []
        while self._groups:
            key, group = next(iter(self._groups.items()))
            if group.deadline > now:
                break
            del self._groups[key]
            dropped.append((key[0], group.preamble))
        return dropped

    def _remember_evicted(self, sender: str, preamble: str) -> None:
        self._evicted.append((sender, preamble))
        if len(self._evicted) > self._max_pending:  # bounded even if expire is never called
            del self._evicted[0]


_SEGMENT = re.compile(r"WV..[A-Za-z]{2}[0-9]+[A-Za-z]{2}(?: |\Z)", re.ASCII)


def _is_segment(text: str) -> bool:
    return _SEGMENT.match(text) is not None
