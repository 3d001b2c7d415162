"""HTTP routes of the node's routing policy (issue 11): see it, reload it.

- GET /v1/policy: what the policy in force holds (its file, rule and price counts, opt-out
  short codes, how many handsets opted out, when it was last reloaded);
- POST /v1/policy/reload: read the policy file, its price list and lists again and use them
  from the next decision (200 with the new summary). A file with an error changes nothing:
  422 `policy-invalid`, whose `errors` give each error's `file`, `line`, `key` and `message`;
  409 `no-policy` when the node runs without `[routing] policy_file`.

What it is not: the reload itself (app/policy.py NodePolicy: read off the event loop, swapped
in one assignment between two decisions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from fastapi import APIRouter, Request

from opensmsc.errors import ConfigError

from ..problems import Problem

__all__ = ["PolicyAdmin", "router"]

router = APIRouter(tags=["policy"])


class PolicyAdmin(Protocol):
    """The node's policy as these routes use it (app/policy.py NodePolicy)."""

    def summary(self) -> Mapping[str, Any] | None: ...

    async def reload(self) -> Mapping[str, Any] | None: ...


def _policy(request: Request) -> PolicyAdmin:
    return cast(PolicyAdmin, request.app.state.policy)


def _no_policy() -> Problem:
    return Problem(
        409,
        "no-policy",
        "the node runs without a policy file ([routing] policy_file): nothing to reload",
    )


def _error_json(error: ConfigError) -> dict[str, Any]:
    return {"file": error.path, "line": error.line, "key": error.key, "message": error.message}


@router.get("/v1/policy")
async def policy_summary(request: Request) -> Mapping[str, Any]:
    summary = _policy(request).summary()
    if summary is None:
        raise _no_policy()
    return summary


@router.post(
    "/v1/policy/reload",
    responses={409: {"description": "no policy file"}, 422: {"description": "policy-invalid"}},
)
async def reload_policy(request: Request) -> Mapping[str, Any]:
    try:
        summary = await _policy(request).reload()
    except ConfigError as exc:
        errors = list(getattr(exc, "errors", None) or [exc])
        raise Problem(
            422,
            "policy-invalid",
            f"{exc}; the policy in force is kept",
            errors=[_error_json(error) for error in errors],
        ) from exc
    if summary is None:
        raise _no_policy()
    return summary
