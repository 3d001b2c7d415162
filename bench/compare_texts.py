"""The texts bench/compare.py sends: each carries its message's token, so that the sink
(bench/compare_sink.py) counts by id whatever ids each system gives.

A token is `id<run>n<index>e`: six lowercase letters name the run (warm-up and measured runs
differ), the index names the message. Letters and digits only, so GSM 03.38 (unpacked) and
UCS-2 carry it unchanged. The long-message mix makes 3 of every 10 messages (30%, `is_long`)
a two-part UCS-2 text in which the token is repeated often enough that every part holds it
whole, however a system cuts the parts (67 or 66 characters).
"""

from __future__ import annotations

# The UCS-2 filler: Cyrillic, CJK and a check mark, all in the Basic Multilingual Plane (one
# UTF-16 unit each, so parts are cut by characters).
UCS2_LEAD = "Привет 你好 ✓ "
LONG_MIN, LONG_MAX = 110, 130  # two parts at 67 (or 66) characters each, never three
PARTS_OF_LONG = 2


def token(run: str, index: int) -> str:
    return f"id{run}n{index}e"


def is_long(index: int, long_share: float) -> bool:
    """Whether message `index` is long: 3 of every 10 at 0.3, spread evenly."""
    if long_share <= 0:
        return False
    slots = round(long_share * 10)
    return index % 10 in {round(k * 10 / slots) for k in range(slots)} if slots else False


def short_text(tok: str) -> str:
    """One GSM 7-bit part."""
    return f"Your code is {tok}"


def long_text(tok: str) -> str:
    """Two UCS-2 parts; the token whole in each (repeated every len(tok)+1 characters, and a
    part of 66 characters holds any window of 2 * (len(tok) + 1) - 1 ≤ 66)."""
    text = UCS2_LEAD
    while len(text) < LONG_MIN:
        text += tok + " "
    return text[:LONG_MAX]


def ucs2_parts(text: str, ref: int) -> list[bytes]:
    """`text` as UCS-2 parts of 67 characters, each behind a UDH with IEI 0x00 (8-bit ref)."""
    chunks = [text[i : i + 67] for i in range(0, len(text), 67)]
    return [
        bytes((5, 0x00, 3, ref & 0xFF, len(chunks), n)) + chunk.encode("utf-16-be")
        for n, chunk in enumerate(chunks, 1)
    ]
