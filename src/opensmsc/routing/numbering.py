"""MSISDN normalisation to E.164 (ITU-T E.164; DIGEST §6.3), with `phonenumbers` where it is
needed and a fast path where it is not.

What this is for: every number the simulated network sees (a destination_addr, a CSV row, a CLI
argument) becomes one key: the E.164 digits as an `int` (447700900123 for +44 7700 900123). The
subscriber table, the HLR, portability and the lookup service all key on that int.

Rules, in order (after removing spaces, '-', '.', '(' and ')'):
- "+<digits>" and "00<digits>" are international.
- "0<digits>" (one trunk zero) is national: parsed by `phonenumbers` in `default_region`.
  Without a default region it is an error.
- Other bare digits are international without the '+', as SMPP writes a TON=1 address. So a
  NANP national number must carry its country code: "12025550123", not "2025550123".
An international number needs a known country code (phonenumbers' table) and 7..15 digits
(E.164 allows 15). With `strict`, every number must also be valid in its country's numbering
plan (`phonenumbers.is_valid_number`); without it, national numbers need only a possible length
(`is_possible_number`), so the fictional ranges used in tests (+44 7700 900xxx) are accepted.

Trade-off: `phonenumbers.parse` costs 20-50 µs a number, too slow for loading a million rows or
for a lookup under 50 µs. Pure-digit and "+digits" strings (what CSV files and SMPP addresses
carry) take a fast path: digits, length and country code only, about 1 µs; such a string is
taken to be E.164 already (a stray trunk 0 after the country code is kept). Everything else
(spaces, "(0)", national numbers), and every number in strict mode, goes through phonenumbers.

Network codes (E.212 MCC-MNC, `parse_mcc_mnc`) and `NumberDataError`, the error of a bad row in
a file of number data (the simulator's subscribers, portability), live here too: both the
simulated network and portability read them, and routing must not depend on the simulator.

What it is not: routing by number ranges (routing/routes.py) or a portability lookup
(routing/portability.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import phonenumbers

from opensmsc.errors import ConfigError, OpensmscError

__all__ = [
    "MAX_DIGITS",
    "MIN_DIGITS",
    "InvalidNumber",
    "NumberDataError",
    "Numbering",
    "country_code",
    "format_e164",
    "parse_mcc_mnc",
]

MAX_DIGITS: Final = 15  # E.164 §6: at most 15 digits, country code included
MIN_DIGITS: Final = 7  # the shortest international numbers in service (e.g. +683 4002)
# E.164 country codes are prefix-free, so at most one of a number's 1-, 2- or 3-digit heads is one.
_COUNTRY_CODES: Final = frozenset(str(cc) for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
_SEPARATORS: Final = str.maketrans("", "", " -.()\t")
_E164: Final = phonenumbers.PhoneNumberFormat.E164


class InvalidNumber(OpensmscError, ValueError):
    """Text that is not a phone number we can put in E.164. `text` is what was given."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"{text!r} is not a valid phone number: {reason}")


class NumberDataError(ConfigError):
    """A bad row in a file of number data (subscribers, portability): the file, the line and
    the column."""


_MCC_MNC_RE: Final = re.compile(r"[0-9]{5,6}")


def parse_mcc_mnc(text: str) -> str:
    """An MCC-MNC (E.212): 5 digits (2-digit MNC) or 6 (3-digit MNC); "234-15" is read as
    "23415". Raises ValueError."""
    compact = text.strip().replace("-", "")
    if _MCC_MNC_RE.fullmatch(compact) is None:
        raise ValueError(f"expected an MCC-MNC of 5 or 6 digits, got {text!r}")
    return compact


def country_code(msisdn: int) -> int:
    """The E.164 country code of a normalised MSISDN (1 to 3 leading digits)."""
    digits = str(msisdn)
    for size in (1, 2, 3):
        if digits[:size] in _COUNTRY_CODES:
            return int(digits[:size])
    raise InvalidNumber(digits, "no known country code")


def format_e164(msisdn: int) -> str:
    """ "+447700900123" for 447700900123."""
    return f"+{msisdn}"


@dataclass(frozen=True, slots=True)
class Numbering:
    """How numbers are read. `default_region` is an ISO 3166 alpha-2 code ("GB") for national
    numbers; `strict` asks for numbering-plan validity (see the module docstring)."""

    default_region: str | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        if self.default_region is not None:
            region = self.default_region.upper()
            if region not in phonenumbers.SUPPORTED_REGIONS:
                raise ValueError(f"unknown region {self.default_region!r} (ISO 3166 alpha-2)")
            object.__setattr__(self, "default_region", region)

    def normalise(self, number: str | int) -> int:
        """The E.164 digits of `number` as an int. An int is taken as already normalised (its
        length and country code are still checked). Raises InvalidNumber."""
        if isinstance(number, int):
            return self._international(str(number), str(number))
        # Fast path: bare digits or "+digits", the form of CSV files and SMPP addresses.
        if number.isascii():
            if number.isdigit() and number[0] != "0":
                return self._international(number, number)
            if number[:1] == "+" and number[1:].isdigit():
                return self._international(number, number[1:])
        return self._slow(number)

    def e164(self, number: str | int) -> str:
        """`number` as "+<digits>". Raises InvalidNumber."""
        return format_e164(self.normalise(number))

    def _international(self, text: str, digits: str) -> int:
        if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
            raise InvalidNumber(
                text, f"{len(digits)} digits, expected {MIN_DIGITS} to {MAX_DIGITS} (E.164)"
            )
        if not (
            digits[:1] in _COUNTRY_CODES
            or digits[:2] in _COUNTRY_CODES
            or digits[:3] in _COUNTRY_CODES
        ):
            raise InvalidNumber(text, f"no country code starts {digits[:3]}")
        if self.strict:
            return self._parsed(text, "+" + digits, None)
        return int(digits)

    def _slow(self, text: str) -> int:
        compact = text.strip().translate(_SEPARATORS)
        if not compact:
            raise InvalidNumber(text, "empty")
        if compact.startswith("00"):
            compact = "+" + compact[2:]
        if compact[0] == "+" or (compact.isdigit() and compact[0] != "0"):
            digits = compact.lstrip("+")
            if not (digits.isascii() and digits.isdigit()):
                raise InvalidNumber(text, "not digits")
            self._international(text, digits)  # the length and country code checks
            # Formatted text may hold a trunk "(0)" after the country code; phonenumbers
            # knows where it is part of the number (Italy) and where not.
            return self._parsed(text, "+" + digits, None)
        if not (compact.isascii() and compact.isdigit()):
            raise InvalidNumber(text, "not digits")
        if self.default_region is None:
            raise InvalidNumber(
                text, "a national number (leading 0) needs network.default_region to be set"
            )
        return self._parsed(text, compact, self.default_region)

    def _parsed(self, text: str, candidate: str, region: str | None) -> int:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException as exc:
            raise InvalidNumber(text, str(exc)) from exc
        if self.strict:
            if not phonenumbers.is_valid_number(parsed):
                raise InvalidNumber(text, "not a valid number in its numbering plan")
        elif not phonenumbers.is_possible_number(parsed):
            raise InvalidNumber(text, "not a possible length for its country")
        digits = phonenumbers.format_number(parsed, _E164)[1:]
        if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
            raise InvalidNumber(text, f"{len(digits)} digits, expected {MIN_DIGITS} to 15")
        return int(digits)
