"""peer_text: a peer's string cannot forge a log line, a field, or a terminal escape."""

from __future__ import annotations

import pytest

from opensmsc.logtext import MAX_PEER_TEXT, peer_text


@pytest.mark.parametrize("plain", ["esme1", "test", "31600000001", "a.b-c_d:e+f@g/h#*"])
def test_plain_values_are_written_as_they_are(plain: str) -> None:
    assert peer_text(plain) == plain


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("", '""'),
        ("a b", '"a b"'),
        ("x status=0", '"x status=0"'),
        ("evil\nbound system_id=admin", '"evil\\nbound system_id=admin"'),
        ("\r\t", '"\\r\\t"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("\x1b[2J\x07\x7f", '"\\x1b[2J\\x07\\x7f"'),
        ("caf\xe9", '"caf\\xe9"'),
        ("\u0430dmin", '"\\u0430dmin"'),  # Cyrillic a: a look-alike shows as what it is
        ("\u202eoo", '"\\u202eoo"'),  # right-to-left override
        ("\U0001f600", '"\\U0001f600"'),
        (b"\x00id\xff", '"\\x00id\\xff"'),
        (None, "none"),
    ],
)
def test_other_values_are_quoted_and_escaped(value: str | bytes | None, written: str) -> None:
    assert peer_text(value) == written


def test_every_character_comes_out_as_printable_ascii_without_a_line_break() -> None:
    for code in range(0x110000):
        char = chr(code)
        text = peer_text(char)
        assert text.isascii() and text.isprintable(), (code, text)


def test_long_values_are_cut_with_the_length_of_the_rest() -> None:
    assert peer_text("a" * (MAX_PEER_TEXT + 936)) == '"' + "a" * MAX_PEER_TEXT + '"...(+936)'
    assert peer_text("a" * MAX_PEER_TEXT) == "a" * MAX_PEER_TEXT
