"""`peer_text`: a string a peer sent, made safe to write in a log line.

Log lines are key=value text read by people and parsed by tools. A value that came from a
peer (an ESME's system_id, an upstream SMSC's message id, an HTTP path) could otherwise end
the line and forge another (`"x\\n... bound system_id=admin"`), add fields (`"x status=0"`),
or send escape codes to an operator's terminal. Every peer-supplied string goes through
`peer_text` on its way into a log call; passwords never go into a log at all.

This module imports nothing of ours, so every floor may use it (the sans-IO core logs nothing
and has no use for it).
"""

from __future__ import annotations

import re

__all__ = ["MAX_PEER_TEXT", "peer_text"]

# Characters that cannot forge a field or a line: such a value is written as it is.
_PLAIN = re.compile(r"[A-Za-z0-9._:+@/#*-]+")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", '"': '\\"', "\\": "\\\\"}

MAX_PEER_TEXT = 64  # characters of a peer's value kept in a log line


def peer_text(value: str | bytes | None) -> str:
    """`value` as one printable ASCII token for a log line.

    A value of letters, digits and `._:+@/#*-` only comes back unchanged (`esme1`). Any other
    comes back in double quotes, with `"` and `\\` escaped, control characters, DEL and
    everything outside ASCII written as `\\n`, `\\xHH`, `\\uHHHH` or `\\UHHHHHHHH` (so a
    look-alike or bidi character shows as what it is), and cut after `MAX_PEER_TEXT`
    characters with the length of the rest: `"aaa..."...(+936)`. Bytes are read as Latin-1,
    one character per octet. None is `none`.
    """
    if value is None:
        return "none"
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    if len(text) <= MAX_PEER_TEXT and _PLAIN.fullmatch(text):
        return text
    rest = len(text) - MAX_PEER_TEXT
    out = ['"']
    for char in text[:MAX_PEER_TEXT]:
        named = _NAMED.get(char)
        if named is not None:
            out.append(named)
        elif " " <= char <= "~":
            out.append(char)
        else:
            code = ord(char)
            if code <= 0xFF:
                out.append(f"\\x{code:02x}")
            elif code <= 0xFFFF:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    if rest > 0:
        out.append(f"...(+{rest})")
    return "".join(out)
