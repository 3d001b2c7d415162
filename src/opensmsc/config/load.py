"""Reading the configuration file: TOML text → a validated `Config`, or every error in it.

`load(path)` is the only way the rest of opensmsc reads its configuration (STYLE §5). Errors are
`ConfigError`s whose text reads `opensmsc.toml:14: smpp.client[1].window: expected a positive
integer, got -3`: the file as given, the line, the key path (array indexes count from 0) and what
was expected. All errors are collected; `check()` returns them all, `load()` raises the first one
with a note of how many more there are (`opensmsc check-config FILE` prints them all).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from pathlib import Path
from typing import TypeVar

from opensmsc.config.locate import Lines
from opensmsc.config.model import Config
from opensmsc.config.model.policy import PolicyFile
from opensmsc.config.rules import KeyPath, Problem
from opensmsc.config.schema import build
from opensmsc.errors import ConfigError

T = TypeVar("T")

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_TOML_END = re.compile(r"\s*\(at end of document\)$")


def load(path: str | Path | None = None) -> Config:
    """The configuration in the file at `path`; `None` gives the embedded defaults.

    Relative paths in the file (and the default `data_dir`) are taken from the file's folder;
    without a file, from the working folder. Raises ConfigError for an unreadable or invalid
    file: the first error found, its message ending with how many others there are.
    """
    config, errors = _read(path, Config)
    if config is None:
        first = errors[0]
        if len(errors) > 1:
            more = len(errors) - 1
            note = f" (and {more} more error{'s' if more > 1 else ''}: run `opensmsc check-config`)"
            raise ConfigError(first.message + note, path=first.path, line=first.line, key=first.key)
        raise first
    return config


def check(path: str | Path) -> list[ConfigError]:
    """Every error in the file at `path`, in the order of their lines; [] when it loads clean."""
    return _read(path, Config)[1]


def loads(text: str, *, source: str = "<string>", base_dir: Path | None = None) -> Config:
    """Like `load` for TOML text already in memory; `source` names it in errors."""
    config, errors = _parse(text, source=source, base_dir=base_dir or Path.cwd(), cls=Config)
    if config is None:
        raise errors[0]
    return config


def read_policy(
    path: str | Path, *, routes: Collection[str] | None = None
) -> tuple[PolicyFile | None, list[ConfigError]]:
    """The policy file at `path` (`[routing] policy_file`), or every error in it, in the order
    of their lines; relative paths in it are taken from its folder. With `routes`, a route
    name that is not one of them is an error too."""
    policy, errors = _read(path, PolicyFile)
    if policy is None or routes is None:
        return policy, errors
    problems = policy.route_problems(routes)
    if not problems:
        return policy, []
    return None, _errors(problems, Path(path).read_text(encoding="utf-8"), str(path))


def _read(path: str | Path | None, cls: type[T]) -> tuple[T | None, list[ConfigError]]:
    if path is None:
        return _parse("", source="<defaults>", base_dir=Path.cwd(), cls=cls)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, [ConfigError(f"cannot read the file: {reason}", path=str(path))]
    return _parse(text, source=str(path), base_dir=file.resolve().parent, cls=cls)


def _parse(
    text: str,
    *,
    source: str,
    base_dir: Path,
    cls: type[T],
) -> tuple[T | None, list[ConfigError]]:
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [_syntax_error(exc, text, source)]
    config, problems = build(cls, table, base_dir=base_dir)
    if config is not None:
        return config, []
    return None, _errors(problems, text, source)


def _errors(problems: list[Problem], text: str, source: str) -> list[ConfigError]:
    lines = Lines(text)
    errors = [
        ConfigError(
            problem.message, path=source, line=lines.line_of(problem.key), key=key_text(problem.key)
        )
        for problem in problems
    ]
    errors.sort(key=lambda error: error.line or 0)
    return errors


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, source: str) -> ConfigError:
    message = str(exc)
    line: int | None = None
    if match := _TOML_POSITION.search(message):
        line = int(match.group(1))
        message = f"{message[: match.start()]} (column {match.group(2)})"
    elif match := _TOML_END.search(message):
        line = text.count("\n") + (0 if text.endswith("\n") else 1)
        message = f"{message[: match.start()]} (at the end of the file)"
    return ConfigError(f"invalid TOML: {message[:1].lower()}{message[1:]}", path=source, line=line)


def key_text(key: KeyPath) -> str:
    """`("smpp", "client", 1, "window")` → `smpp.client[1].window`; odd names are quoted."""
    text = ""
    for part in key:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            bare = re.fullmatch(r"[A-Za-z0-9_-]+", part) is not None
            name = part if bare else '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'
            text += f".{name}" if text else name
    return text
