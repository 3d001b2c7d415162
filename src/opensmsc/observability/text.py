"""`MessageText`: message content in a log line, redacted unless the operator asked to see it.

Services log the content of a message as a `MessageText` argument
(`log.debug("accepted message_id=%s text=%s", mid, MessageText(short_message, data_coding))`).
On its own it prints as `<12 octets redacted>` (STYLE §6: short_message is redacted unless
configured), so no configuration, and no handler of someone else's, can leak a message. The
CLI's log handler (cli/logsetup.py) shows the decoded text instead when `[logging]
show_short_message = true`: quoted, with control characters escaped, so a message cannot forge
a log line.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field

from opensmsc.sms import (
    Alphabet,
    UdhError,
    UnsupportedDataCoding,
    alphabet_of,
    decode_text,
    parse_udh,
)

__all__ = ["MessageText"]

_UDHI = 0x40  # esm_class: short_message starts with a user data header
# What JSON leaves as it is but a terminal or a log reader may act on: DEL, the C1 controls
# (0x9B is a CSI), and the Unicode line and paragraph separators.
_ESCAPES = {code: f"\\u{code:04x}" for code in (*range(0x7F, 0xA0), 0x2028, 0x2029)}


@dataclass(frozen=True, slots=True)
class MessageText:
    """A message's short_message (or message_payload) octets and their data_coding; `esm_class`
    says whether a UDH comes first (it is left out of the text)."""

    payload: bytes = field(repr=False)
    data_coding: int = 0
    esm_class: int = 0

    def __str__(self) -> str:
        return f"<{len(self.payload)} octets redacted>"

    def shown(self) -> str:
        """The text, quoted and escaped; octets in hex when the data_coding has no text."""
        payload = self.payload
        if self.esm_class & _UDHI:
            with contextlib.suppress(UdhError):  # a broken UDH: show the octets as they are
                payload = parse_udh(payload)[1]
        try:
            if alphabet_of(self.data_coding) is Alphabet.BINARY:
                return "0x" + bytes(payload).hex()
            text = decode_text(self.data_coding, payload)
        except (UnsupportedDataCoding, ValueError):
            return "0x" + bytes(payload).hex()
        return json.dumps(text, ensure_ascii=False).translate(_ESCAPES)
