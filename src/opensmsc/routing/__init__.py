"""Routing: which route a message takes and what happens when it fails there (E.164 numbering,
portability, the prefix router, the MO account choice, retry classes, account policy). Depends
on no simulator.
Import from here; the modules may be split or merged.
"""

from opensmsc.routing.mo import BoundSession, MoRouter
from opensmsc.routing.numbering import (
    MAX_DIGITS,
    MIN_DIGITS,
    InvalidNumber,
    NumberDataError,
    Numbering,
    country_code,
    format_e164,
    parse_mcc_mnc,
)
from opensmsc.routing.policy import (
    AccountPolicies,
    AccountPolicy,
)
from opensmsc.routing.portability import (
    NpResolution,
    NumberPortability,
    PortabilityResult,
    PortabilityTable,
    PortingRecord,
    np_tlvs,
    np_tlvs_for,
)
from opensmsc.routing.retry import (
    DEFAULT_POLICIES,
    ErrorClass,
    ExpireAt,
    GiveUp,
    RetryAt,
    RetryDecision,
    RetryPolicy,
    classify_map_error,
    next_attempt,
    schedule,
)
from opensmsc.routing.routes import (
    LOOPBACK,
    Accepted,
    Attempt,
    Delivered,
    ImmediateRoute,
    LoopbackRoute,
    PermanentFailure,
    Route,
    Router,
    TemporaryFailure,
)

__all__ = [
    "DEFAULT_POLICIES",
    "LOOPBACK",
    "MAX_DIGITS",
    "MIN_DIGITS",
    "Accepted",
    "AccountPolicies",
    "AccountPolicy",
    "Attempt",
    "BoundSession",
    "Delivered",
    "ErrorClass",
    "ExpireAt",
    "GiveUp",
    "ImmediateRoute",
    "InvalidNumber",
    "LoopbackRoute",
    "MoRouter",
    "NpResolution",
    "NumberDataError",
    "NumberPortability",
    "Numbering",
    "PermanentFailure",
    "PortabilityResult",
    "PortabilityTable",
    "PortingRecord",
    "RetryAt",
    "RetryDecision",
    "RetryPolicy",
    "Route",
    "Router",
    "TemporaryFailure",
    "classify_map_error",
    "country_code",
    "format_e164",
    "next_attempt",
    "np_tlvs",
    "np_tlvs_for",
    "parse_mcc_mnc",
    "schedule",
]
