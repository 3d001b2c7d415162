"""IMPS (Wireless Village / OMA IMPS CSP) over SMS (issue 13): the service and its durable
state (`service`, `state`)."""

from .service import ImpsService, ImpsSettings, InvalidUser
from .state import Channel, ImpsState, ImpsStateError, ImpsStats, Outgoing, User

__all__ = [
    "Channel",
    "ImpsService",
    "ImpsSettings",
    "ImpsState",
    "ImpsStateError",
    "ImpsStats",
    "InvalidUser",
    "Outgoing",
    "User",
]
