"""The numbers in `[network]` read as the node reads them: E.164 digits as an int.

The configuration must not depend on the services (`routing` brings the store and the
simulator with it), so the rules of `routing.numbering` are applied here with `phonenumbers`
directly: the same acceptance (bare digits and "+digits" need a known country code and 7 to 15
digits; other forms, and every number when `strict`, go through phonenumbers) and the same
messages. tests/core/test_config.py keeps the two in agreement over a table of numbers.
"""

from __future__ import annotations

from typing import Final

import phonenumbers

MIN_DIGITS: Final = 7
MAX_DIGITS: Final = 15
_COUNTRY_CODES: Final = frozenset(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_SEPARATORS: Final = str.maketrans("", "", " -.()\t")


def region(name: str | None) -> str | None:
    """An ISO 3166 alpha-2 region phonenumbers knows, upper-cased. Raises ValueError."""
    if name is None:
        return None
    if name.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {name!r} (ISO 3166 alpha-2)")
    return name.upper()


def e164_key(text: str, default_region: str | None, strict: bool) -> int:
    """The E.164 digits of `text`. Raises ValueError saying why it is not a phone number."""
    if text.isascii() and text.isdigit() and text[0] != "0":
        return _international(text, text, strict)
    if text.isascii() and text[:1] == "+" and text[1:].isdigit():
        return _international(text, text[1:], strict)
    compact = text.strip().translate(_SEPARATORS)
    if not compact:
        raise _invalid(text, "empty")
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact[0] == "+" or (compact.isdigit() and compact[0] != "0"):
        digits = compact.lstrip("+")
        if not (digits.isascii() and digits.isdigit()):
            raise _invalid(text, "not digits")
        _international(text, digits, strict=False)
        return _parsed(text, "+" + digits, None, strict)
    if not (compact.isascii() and compact.isdigit()):
        raise _invalid(text, "not digits")
    if default_region is None:
        raise _invalid(text, "a national number (leading 0) needs network.default_region to be set")
    return _parsed(text, compact, default_region, strict)


def _international(text: str, digits: str, strict: bool) -> int:
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise _invalid(text, f"{len(digits)} digits, expected {MIN_DIGITS} to {MAX_DIGITS} (E.164)")
    if not any(digits[:size] in _COUNTRY_CODES for size in (1, 2, 3)):
        raise _invalid(text, f"no country code starts {digits[:3]}")
    return _parsed(text, "+" + digits, None, strict) if strict else int(digits)


def _parsed(text: str, candidate: str, default_region: str | None, strict: bool) -> int:
    try:
        number = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException as exc:
        raise _invalid(text, str(exc)) from exc
    if strict and not phonenumbers.is_valid_number(number):
        raise _invalid(text, "not a valid number in its numbering plan")
    if not strict and not phonenumbers.is_possible_number(number):
        raise _invalid(text, "not a possible length for its country")
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise _invalid(text, f"{len(digits)} digits, expected {MIN_DIGITS} to 15")
    return int(digits)


def _invalid(text: str, reason: str) -> ValueError:
    return ValueError(f"{text!r} is not a valid phone number: {reason}")
