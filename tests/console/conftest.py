"""Fixtures of the console's browser tests."""

from tests.console.browser import browser

__all__ = ["browser"]
