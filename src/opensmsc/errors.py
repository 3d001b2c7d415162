"""The root of every error opensmsc raises on purpose. Imports nothing of ours."""

from __future__ import annotations


class OpensmscError(Exception):
    """Base of all opensmsc errors; anything else escaping our code is a bug."""


class ConfigError(OpensmscError):
    """A configuration file is unusable. Raised at start-up only; printed, exit status 2."""

    def __init__(self, message: str, *, path: str, line: int | None = None, key: str = "") -> None:
        self.message = message
        self.path = path
        self.line = line
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class MessageRejected(OpensmscError):
    """Policy, route, quota or validity refused a message; `status` is the SMPP answer."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{reason} (command_status 0x{status:08X})")


class StoreUnavailable(OpensmscError):
    """The store could not persist; a message is never acknowledged in this case."""


class StartupError(OpensmscError):
    """The node cannot start where it is: a port in use, an address not on this host, a store
    it cannot write, a data folder another node holds. Raised at start-up only; printed as one
    line, exit status 2 (like ConfigError)."""
