"""IMPS (Wireless Village / OMA IMPS CSP) over SMS, application port 3590 (issue 13).

pts.py, codes.py and cir.py: the wire format (sans-IO); state.py and service.py: the service
and its durable state; binding.py: the route between the SMSC's store and the service;
worker.py: the one thread the service runs on.
"""

from .binding import (
    CIR_PORT,
    DATA_PORT,
    IMPS_SYSTEM_ID,
    SEGMENT_OCTETS,
    ImpsRoute,
    Inbound,
    claims_mo,
    claims_mt,
    inbound,
)
from .service import ImpsService
from .state import ImpsSettings, ImpsState
from .worker import ServiceClosed, ServiceThread

__all__ = [
    "CIR_PORT",
    "DATA_PORT",
    "IMPS_SYSTEM_ID",
    "SEGMENT_OCTETS",
    "ImpsRoute",
    "ImpsService",
    "ImpsSettings",
    "ImpsState",
    "Inbound",
    "ServiceClosed",
    "ServiceThread",
    "claims_mo",
    "claims_mt",
    "inbound",
]
