"""`[cdr]`: a call detail record per message that ends, as JSON lines in a rotating file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from opensmsc.config.rules import Length, NonNegativeInt, int_range

CdrFile = Annotated[str, Length(maximum=4096, minimum=1)]


@dataclass(frozen=True, slots=True, kw_only=True)
class CdrConfig:
    """`[cdr]` (app/cdr.py). `file` is relative to `[node] data_dir` unless absolute. When it
    reaches `rotate_bytes` it becomes `file.1` (the older ones `.2` ... up to `keep`, the
    oldest dropped); 0 never rotates. The text is in it only with `[logging]
    show_short_message`."""

    enabled: bool = False
    file: CdrFile = "cdr.jsonl"
    rotate_bytes: NonNegativeInt = 104_857_600  # 100 MiB
    keep: Annotated[int, int_range(1, 1000)] = 10
