"""Errors of the sms package. Imports nothing of ours but the root error."""

from __future__ import annotations

from opensmsc.errors import OpensmscError

__all__ = ["EncodingError"]

# Readable names for the alphabet tokens callers pass (the `sms.dcs.Alphabet` member names).
_ALPHABET_NAMES = {
    "GSM7": "GSM 7-bit alphabet",
    "UCS2": "UCS2 alphabet",
    "LATIN1": "Latin-1 alphabet",
    "IA5": "IA5 (ASCII) alphabet",
    "BINARY": "8-bit octet range",
    "CYRILLIC": "Latin/Cyrillic alphabet (ISO 8859-5)",
    "HEBREW": "Latin/Hebrew alphabet (ISO 8859-8)",
}


class EncodingError(OpensmscError):
    """`text` cannot be represented in `alphabet`; `position` indexes the first offending character.

    `alphabet` is a short token (`"GSM7"`, `"UCS2"`, `"LATIN1"` ...: the `sms.dcs.Alphabet` member
    names); `detail` says which tables were in force, e.g. `"Turkish single shift"`. The message
    reads alone in a log: "character 'ж' (U+0436) at position 3 is not in the GSM 7-bit alphabet
    (Turkish single shift)".
    """

    def __init__(self, *, text: str, position: int, alphabet: str, detail: str = "") -> None:
        self.text = text
        self.position = position
        self.alphabet = alphabet
        self.detail = detail
        super().__init__(self._describe())

    def _describe(self) -> str:
        name = _ALPHABET_NAMES.get(self.alphabet, f"{self.alphabet} alphabet")
        if self.detail:
            name = f"{name} ({self.detail})"
        if 0 <= self.position < len(self.text):
            char = self.text[self.position]
            return (
                f"character {char!r} (U+{ord(char):04X}) at position {self.position}"
                f" is not in the {name}"
            )
        return f"text of {len(self.text)} characters is not representable in the {name}"
