"""Line numbers of the keys of a TOML document, so that errors can say where they are.

`tomllib` gives values but no positions. This scanner walks the same text (which `tomllib` has
already accepted, so it need not check the syntax) and records the line where each key path
appears: table headers `[a.b]`, arrays of tables `[[a.b]]` with the index of each element
(following TOML's rule that a header inside an array of tables refers to its last element),
`key = value` lines with dotted and quoted keys, inline tables, and the elements of arrays (so
that `allowed_networks[2]` finds its own line in a multi-line array).

It is not a TOML parser: values are skipped, not read, and it never raises on valid TOML.
"""

from __future__ import annotations

import tomllib

from opensmsc.config.rules import KeyPath

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class Lines:
    """Key path → line number (1-based) of its first appearance."""

    def __init__(self, text: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        _Scanner(text, self._lines).document()

    def line_of(self, key: KeyPath) -> int | None:
        """The line of `key`, else of its nearest enclosing table that has one, else None.

        A missing key reports the line of the table that should hold it; a key of a section the
        file does not have at all reports no line.
        """
        for end in range(len(key), 0, -1):
            line = self._lines.get(key[:end])
            if line is not None:
                return line
        return None


class _Scanner:
    def __init__(self, text: str, lines: dict[KeyPath, int]) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.lines = lines
        self.array_counts: dict[KeyPath, int] = {}

    # -- plumbing ---------------------------------------------------------------------------

    def peek(self, count: int = 1) -> str:
        return self.text[self.pos : self.pos + count]

    def advance(self, count: int = 1) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + count)
        self.pos += count

    def record(self, key: KeyPath, line: int) -> None:
        self.lines.setdefault(key, line)

    def skip_blank(self, *, newlines: bool) -> None:
        """Skip spaces and comments, and newlines too when `newlines`."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self.advance()
            elif char == "#":
                end = self.text.find("\n", self.pos)
                self.advance((len(self.text) if end < 0 else end) - self.pos)
            else:
                return

    def skip_to_line_end(self) -> None:
        end = self.text.find("\n", self.pos)
        self.advance((len(self.text) if end < 0 else end) - self.pos)

    # -- grammar ----------------------------------------------------------------------------

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            if self.peek(2) == "[[":
                table = self.header(array=True)
            elif self.peek() == "[":
                table = self.header(array=False)
            else:
                self.key_value(table)
            self.skip_to_line_end()

    def header(self, *, array: bool) -> KeyPath:
        line = self.line
        self.advance(2 if array else 1)
        parts = self.dotted_key()
        self.advance(2 if array else 1)
        concrete: list[str | int] = []
        for part in parts[:-1] if array else parts:
            concrete.append(part)
            count = self.array_counts.get(tuple(concrete))
            if count is not None:  # TOML: a header inside an array of tables means its last one
                concrete.append(count - 1)
        for end in range(1, len(concrete) + 1):
            self.record(tuple(concrete[:end]), line)
        if not array:
            return tuple(concrete)
        array_key: KeyPath = (*concrete, parts[-1])
        index = self.array_counts.get(array_key, 0)
        self.array_counts[array_key] = index + 1
        self.record(array_key, line)
        self.record((*array_key, index), line)
        return (*array_key, index)

    def key_value(self, table: KeyPath) -> None:
        line = self.line
        parts = self.dotted_key()
        for end in range(1, len(parts) + 1):
            self.record((*table, *parts[:end]), line)
        self.skip_blank(newlines=False)
        self.advance()  # "="
        self.skip_blank(newlines=False)
        self.value((*table, *parts))

    def dotted_key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            parts.append(self.simple_key())
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return parts
            self.advance()

    def simple_key(self) -> str:
        start = self.pos
        if self.peek() in ('"', "'"):
            self.string()
            raw = self.text[start : self.pos]
            return str(next(iter(tomllib.loads(f"{raw} = 0"))))
        while self.pos < len(self.text) and self.text[self.pos] in _BARE:
            self.advance()
        return self.text[start : self.pos]

    def value(self, key: KeyPath) -> None:
        char = self.peek()
        if char == "{":
            self.inline_table(key)
        elif char == "[":
            self.array(key)
        elif char in ('"', "'"):
            self.string()
        else:
            while self.pos < len(self.text) and self.text[self.pos] not in ",]}\n#":
                self.advance()

    def inline_table(self, key: KeyPath) -> None:
        self.advance()  # "{"
        while True:
            self.skip_blank(newlines=True)  # newlines are not TOML 1.0, but harmless here
            if self.peek() in ("}", ""):
                self.advance()
                return
            if self.peek() == ",":
                self.advance()
                continue
            self.key_value(key)

    def array(self, key: KeyPath) -> None:
        self.advance()  # "["
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.peek() in ("]", ""):
                self.advance()
                return
            if self.peek() == ",":
                self.advance()
                index += 1
                continue
            self.record((*key, index), self.line)
            self.value((*key, index))

    def string(self) -> None:
        quote = self.peek()
        if self.peek(3) == quote * 3:
            self.advance(3)
            end = self.text.find(quote * 3, self.pos)
            while quote == '"' and end > 0 and _escaped(self.text, end):
                end = self.text.find(quote * 3, end + 1)
            end = len(self.text) if end < 0 else end + 3
            # TOML allows up to two extra quotes right before the closing delimiter.
            while end < len(self.text) and self.text[end] == quote:
                end += 1
            self.advance(end - self.pos)
            return
        self.advance()
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and quote == '"':
                self.advance(2)
            elif char in (quote, "\n"):
                self.advance()
                return
            else:
                self.advance()


def _escaped(text: str, index: int) -> bool:
    """Whether the character at `index` is preceded by an odd number of backslashes."""
    count = 0
    while index - count - 1 >= 0 and text[index - count - 1] == "\\":
        count += 1
    return count % 2 == 1
