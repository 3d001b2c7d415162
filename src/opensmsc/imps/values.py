"""Reading the parameters of client requests, and the names the IMPS service compares.

What this is for: the shapes a PTS value takes in a request (a list of names, a list of
(name,value) pairs, the leaves of a service tree), user ids as CSP compares them (case-
insensitive, AIM's "wv:" prefix dropped), MSISDNs, and `Refused`, the answer-with-a-status that
every handler may raise. What this is not: the PTS codec (imps/pts.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from opensmsc.errors import OpensmscError
from opensmsc.imps import pts
from opensmsc.imps.codes import Status

__all__ = [
    "COOKIE",
    "MSISDN",
    "USER_ID",
    "Refused",
    "digits",
    "is_pair",
    "normalise_user_id",
    "pairs",
    "session_id_of",
    "strings",
    "text_items",
]

MSISDN: Final = re.compile(r"\+?[0-9]{3,20}")
COOKIE: Final = re.compile(r"[A-Za-z0-9._+/=-]{1,64}")  # what fits a WVCI (imps/cir.py)
# no control characters either: a user id is written into log lines and shown on handsets
USER_ID: Final = re.compile(r"[^\s\"(),=&\x00-\x1f\x7f-\x9f]{1,100}")


class Refused(OpensmscError):
    """A request answered with a CSP status instead of its response primitive."""

    def __init__(self, status: Status, detail: str = "") -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"{int(status)} {detail or status.description}")


def normalise_user_id(raw: str) -> str:
    """CSP user ids are case-insensitive; AIM may prefix them with "wv:"."""
    user_id = raw.strip()
    if user_id[:3].lower() == "wv:":
        user_id = user_id[3:]
    return user_id.lower()


def digits(msisdn: str) -> str:
    return msisdn.lstrip("+")


def strings(values: Iterable[pts.Value]) -> list[str]:
    """The leaves of a PTS value list, in order."""
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found.append(value)
        else:
            found.extend(strings(value))
    return found


def text_items(primitive: pts.Primitive, name: str) -> list[str]:
    """A list parameter whose elements must be plain strings (user ids, list ids)."""
    items = primitive.items(name) if primitive.get(name) is not None else ()
    if not all(isinstance(item, str) for item in items):
        raise Refused(Status.BAD_PARAMETER, f"{name} must be a list of names")
    return [str(item) for item in items if str(item)]


def pairs(primitive: pts.Primitive, name: str) -> list[tuple[str, str]]:
    """A list of (name, value) pairs: capability lists, contact list properties, nick lists.
    A bare string stands for ("", string) (a nick list entry with no nickname)."""
    value = primitive.get(name)
    if value is None:
        return []
    items: tuple[pts.Value, ...] = (value,) if is_pair(value) else primitive.items(name)
    found: list[tuple[str, str]] = []
    for item in items:
        if isinstance(item, str):
            found.append(("", item))
        elif is_pair(item):
            found.append((str(item[0]), str(item[1])))
        else:
            raise Refused(Status.BAD_PARAMETER, f"{name}: expected (name,value) pairs")
    return found


def is_pair(value: pts.Value) -> bool:
    return not isinstance(value, str) and len(value) == 2 and all(isinstance(v, str) for v in value)


def session_id_of(request: pts.Primitive) -> str | None:
    """The SI to name in an error answer: none when SI itself is what is wrong."""
    value = request.get("SI")
    return value if isinstance(value, str) else None
