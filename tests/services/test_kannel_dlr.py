"""Kannel's dlr-url escapes (gw/urltrans.c urltrans_fill_escape_codes) and its URL encoding
(gwlib/octstr.c octstr_url_encode), on the pattern edge cases the integration test does not
reach, and the dlr-mask → registered_delivery mapping."""

from __future__ import annotations

import pytest

from opensmsc.http.compat.kannel_dlr import fill_escapes, registered_delivery_of, url_encode


def _fill(pattern: str, text: bytes = b"id:1 stat:DELIVRD  text:a*b") -> str:
    return fill_escapes(
        pattern,
        dlr_type=2,
        text=text,
        receiver="0044 7700",
        sender="+44",
        at=1_700_000_000,
        report_id="r",
        foreign_id="f/1",
        smsc="s",
        service="esme1",
    )


def test_url_encoding_is_octstr_url_encodes() -> None:
    # RFC 2396 unreserved kept, a space as +, the rest %XX in upper case (UTF-8 octets)
    assert url_encode("aZ09-_.!~*'() /+%&=Ж") == "aZ09-_.!~*'()+%2F%2B%25%26%3D%D0%96"
    assert url_encode(b"\x00\xff") == "%00%FF"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("%d%%%z", "2%%z"),  # %% is %, an unknown code is kept
        ("end%", "end%"),  # a last lone % is copied
        ("%p|%q|%P|%Q", "0044+7700|%2B44+7700|%2B44|%2B44"),
        ("%t %T", "2023-11-14+22:13:20 1700000000"),  # GMT, seconds, + for the blank
        ("%k|%s|%s|%S|%r", "id%3A1|stat%3ADELIVRD|text%3Aa*b||"),
        ("%a", "id%3A1+stat%3ADELIVRD+text%3Aa*b"),
        # %s and %S start at the second word (the first is the keyword, %k)
        ("%S", "stat:DELIVRD"),  # not encoded
        ("%s%S", "stat%3ADELIVRDtext:a~b"),  # %S writes * as ~
        ("%s%s%S", "stat%3ADELIVRDtext%3Aa*b"),
        ("%r", "stat%3ADELIVRD+text%3Aa*b"),
        ("%A", "id%3A1+stat%3ADELIVRD++text%3Aa*b"),
        ("%F|%I|%i|%n", "f%2F1|r|s|esme1"),
        ("%c%m%M|%C|%O|%u%B%o%D%f%v%V|", "-1-1-1|UTF-8|00||"),
        ("a%#smpp#dlr_err#b", "ab"),  # meta-data: none in a report
        ("a%#smpp#b", "a"),  # no closing #: Kannel reads past the end; we stop
        ("a%#smpp", "asmpp"),  # no second #: %# is skipped
        ("%R", "%25R"),
    ],
)
def test_escapes_are_filled_as_kannel_fills_them(pattern: str, expected: str) -> None:
    assert _fill(pattern) == expected


@pytest.mark.parametrize(
    ("mask", "registered_delivery"),
    [
        (0, 0),
        (1, 0x03),
        (2, 0x02),
        (3, 0x01),
        (7, 0x11),
        (4, 0x10),
        (8, 0),
        (16, 0x02),
        (17, 0x01),
        (31, 0x11),
        (32, 0x10),
        (63, 0x11),
    ],
)
def test_the_mask_asks_for_the_closest_registered_delivery(
    mask: int, registered_delivery: int
) -> None:
    assert registered_delivery_of(mask) == registered_delivery
