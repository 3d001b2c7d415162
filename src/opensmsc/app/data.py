"""The data folder (`node.data_dir`), held by one node at a time.

Two nodes on one store would each believe they own its messages: both would deliver them, and
each would count the other's writes as a crash to recover from. So the node takes an exclusive
`flock` on the folder itself before opening anything in it, and a second node is refused with
a clear message. The lock goes with the process: a node killed with SIGKILL leaves no stale lock
behind. The folder's descriptor is opened read-only, so the lock also works on a read-only file
system (where the store then says why it cannot open).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from opensmsc.app.failures import os_reason
from opensmsc.errors import StartupError

__all__ = ["DataFolderLock"]


class DataFolderLock:
    """Holds the exclusive lock on `data_dir` from start to stop."""

    name = "data folder lock"

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._fd: int | None = None

    async def start(self) -> None:
        try:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._data_dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise StartupError(
                f"data folder {self._data_dir} cannot be used: {os_reason(exc)}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise StartupError(
                f"data folder {self._data_dir} is in use by another opensmsc node: stop that "
                "node first, or give this one its own node.data_dir"
            ) from exc
        self._fd = fd

    async def stop(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
