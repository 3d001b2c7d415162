"""opensmsc: an SMSC and SMS gateway speaking SMPP 3.3, 3.4 and 5.0 in both roles."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opensmsc")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
