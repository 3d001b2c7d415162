"""The composition root: one `Config` in, running services out. The only package that knows
every floor.

One wiring module per subsystem, each turning its slice of the configuration into a service:
engine.py (the store and the engine), network.py (the simulated network, when used),
upstream.py (connectors and MO), smsc.py (the SMPP listeners and sessions), policyd.py (the
policy server on 3055), policy.py (its engine: the rules of [routing] policy_file), admin.py
(the HTTP admin API) with metrics.py and readiness.py (what its /metrics and /ready answer),
accounts.py (accounts and their policies). node.py starts them in order
and stops them in reverse (service.py); process.py runs the node as a process (signals, uvloop).
"""

from opensmsc.app.accounts import DEMO_PASSWORD, DEMO_SYSTEM_ID
from opensmsc.app.node import RunningSmsc, start
from opensmsc.app.policy import policy_engine, route_names, rule_policy, standin_router
from opensmsc.app.process import run, serve, tune_gc
from opensmsc.app.service import Service, Services
from opensmsc.app.simulated_hlr import HlrServices, build_hlr, prefix_default

__all__ = [
    "DEMO_PASSWORD",
    "DEMO_SYSTEM_ID",
    "HlrServices",
    "RunningSmsc",
    "Service",
    "Services",
    "build_hlr",
    "policy_engine",
    "prefix_default",
    "route_names",
    "rule_policy",
    "run",
    "serve",
    "standin_router",
    "start",
    "tune_gc",
]
