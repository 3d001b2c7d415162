"""The policy wire reads and writes JSON with orjson where it can and the standard library
where orjson would differ (wire.py `_from_json`, `_to_json`). Over any JSON text, and any bytes,
reading must give what the standard decoder gives (the same value, of the same types, or a
refusal), and writing must give a text the standard decoder reads back to the value, or the
standard encoder's refusal (NaN, infinities)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opensmsc.policyd.wire import Invalid, _from_json, _to_json, encode_frame, parse

_standard = json.JSONDecoder(parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False),
    st.text(),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
json_texts = values.map(
    lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")
)
odd_texts = st.sampled_from(
    [
        b'{"id": 123456789012345678901234567890}',
        b'{"a": 1e400}',
        b'"\\ud800"',
        b'{"a":1,"a":2}',
        b"NaN",
        b"[Infinity]",
        b"\xef\xbb\xbf{}",
        b"\xff",
        b"[" * 3000 + b"]" * 3000,
        b" [1, 2.50, -0, -0.0, 1E5] ",
        b'{"x": 0.1000000000000000055511151231257827}',
    ]
)


def _same(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[attr-defined,index]
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)  # type: ignore[arg-type]
    return a == b


def _standard_read(body: bytes) -> object:
    try:
        return ("value", _standard.decode(body.decode("utf-8")))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return ("refused", type(exc))


def _our_read(body: bytes) -> object:
    try:
        return ("value", _from_json(body))
    except (ValueError, RecursionError) as exc:
        return ("refused", type(exc))


@settings(max_examples=400)
@given(st.one_of(json_texts, odd_texts, st.binary(max_size=40)))
def test_reading_gives_what_the_standard_decoder_gives(body: bytes) -> None:
    ours, theirs = _our_read(body), _standard_read(body)
    assert ours[0] == theirs[0]
    if ours[0] == "value":
        assert _same(ours[1], theirs[1])  # type: ignore[index]
    else:
        assert issubclass(ours[1], theirs[1]) or issubclass(theirs[1], ours[1])  # type: ignore[index,arg-type]


@settings(max_examples=400)
@given(values)
def test_writing_reads_back_to_the_value(value: object) -> None:
    try:
        expected = json.dumps(value, ensure_ascii=False, allow_nan=False).encode(
            "utf-8", "surrogatepass"
        )
    except (ValueError, UnicodeEncodeError):
        return
    try:
        written = _to_json(value)  # type: ignore[arg-type]
    except UnicodeEncodeError:
        return  # a lone surrogate: the standard encoder's text cannot be UTF-8 either
    assert _same(
        _standard.decode(written.decode()),
        _standard.decode(expected.decode("utf-8", "surrogatepass")),
    )


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused_as_before(bad: float) -> None:
    with pytest.raises(ValueError):
        encode_frame({"jsonrpc": "2.0", "id": 1, "result": {"cost": bad}})


def test_a_long_integer_id_stays_an_integer() -> None:
    message = parse(b'{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"m"}')
    assert not isinstance(message, Invalid)
    assert message.id == 123456789012345678901234567890  # type: ignore[union-attr]
