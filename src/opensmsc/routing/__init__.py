"""Routing: which route a message takes and what happens when it fails there (E.164 numbering,
portability, the prefix router, the policy decision seam (`PolicyEngine`, `PrefixPolicy`), the
MO account choice, retry classes, account policy). Depends on no simulator.
Import from here; the modules may be split or merged.
"""

from opensmsc.routing.decision import (
    Action,
    Decision,
    Outcome,
    PolicyEngine,
    PrefixPolicy,
    Rewrite,
    RouteChoice,
    RouteQuery,
    RouteReport,
)
from opensmsc.routing.health import Quality, RouteHealth
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
from opensmsc.routing.opt_outs import OPT_OUT_FILENAME, OptOutFile
from opensmsc.routing.policy import (
    AccountPolicies,
    AccountPolicy,
)
from opensmsc.routing.policy_file import (
    PolicyFileError,
    compile_policy,
    load_rules,
    rules_loader,
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
from opensmsc.routing.rule_policy import Explanation, RulePolicy
from opensmsc.routing.rules import RuleSet, SourceKind, Step
from opensmsc.routing.velocity import SlidingWindow

__all__ = [
    "DEFAULT_POLICIES",
    "LOOPBACK",
    "MAX_DIGITS",
    "MIN_DIGITS",
    "OPT_OUT_FILENAME",
    "Accepted",
    "AccountPolicies",
    "AccountPolicy",
    "Action",
    "Attempt",
    "BoundSession",
    "Decision",
    "Delivered",
    "ErrorClass",
    "ExpireAt",
    "Explanation",
    "GiveUp",
    "ImmediateRoute",
    "InvalidNumber",
    "LoopbackRoute",
    "MoRouter",
    "NpResolution",
    "NumberDataError",
    "NumberPortability",
    "Numbering",
    "OptOutFile",
    "Outcome",
    "PermanentFailure",
    "PolicyEngine",
    "PolicyFileError",
    "PortabilityResult",
    "PortabilityTable",
    "PortingRecord",
    "PrefixPolicy",
    "Quality",
    "RetryAt",
    "RetryDecision",
    "RetryPolicy",
    "Rewrite",
    "Route",
    "RouteChoice",
    "RouteHealth",
    "RouteQuery",
    "RouteReport",
    "Router",
    "RulePolicy",
    "RuleSet",
    "SlidingWindow",
    "SourceKind",
    "Step",
    "TemporaryFailure",
    "classify_map_error",
    "compile_policy",
    "country_code",
    "format_e164",
    "load_rules",
    "next_attempt",
    "np_tlvs",
    "np_tlvs_for",
    "parse_mcc_mnc",
    "rules_loader",
    "schedule",
]
