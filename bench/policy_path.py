"""What the policy costs on the node's message path (issue 11), per message, in process: the
engine's `Decisions` (engine/decisions.py) deciding at submit, handing the plan to the first
attempt, resolving its routes and taking its report, with bench/store.py's `--policy` file
(RulePolicy) and without it (PrefixPolicy over the Router).

bench/store.py measures the whole node, but on a shared 2-core machine its runs vary by more
than the 10% the issue allows the policy; this measures the policy's part alone, in CPU time
(best of `--repeat`), to set against the node's CPU per message (store.py's srv µs/msg).

    .venv/bin/python bench/policy_path.py [--n 20000] [--repeat 10]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opensmsc.engine.decisions import Decisions
from opensmsc.routing import (
    Delivered,
    LoopbackRoute,
    PolicyEngine,
    PrefixPolicy,
    Router,
    RulePolicy,
    rules_loader,
)
from opensmsc.store import Address, StoredMessage
from store import POLICY

NOW = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = 100  # bench/store.py's window per session


def records(n: int) -> list[StoredMessage]:
    """What bench/ours_client.py submits (its source and destination), as stored."""
    return [
        StoredMessage(
            message_id=f"m{i}",
            system_id="test0",
            source=Address(1, 1, "12345"),
            destination=Address(1, 1, "31600000000"),
            short_message=b"hello",
            submitted_at=NOW,
            due_at=NOW,
            expires_at=NOW + timedelta(days=1),
        )
        for i in range(n)
    ]


def per_message_us(engine: PolicyEngine, router: Router, batch: list[StoredMessage]) -> float:
    decisions = Decisions(engine, router)
    delivered = Delivered()
    started = time.process_time()
    # As the node goes: a window of submits decided, then their attempts launched together
    # and recorded as one batch (the Scheduler's _start_ready and _finish_batch).
    for first in range(0, len(batch), WINDOW):
        stored = [decisions.at_submit([record], NOW)[0] for record in batch[first : first + WINDOW]]
        for record in stored:
            decision = decisions.for_attempt(record, NOW)
            route = decisions.routes(decision)[0]
            decisions.report(route.name, delivered, decisions.started(), NOW)
        decisions.flush_reports()
    return (time.process_time() - started) / len(batch) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    router = Router({"loopback": LoopbackRoute()}, default_route="loopback")
    with tempfile.TemporaryDirectory(prefix="policy-path-") as folder:
        path = Path(folder) / "policy.toml"
        path.write_text(POLICY)
        engines: dict[str, PolicyEngine] = {
            "PrefixPolicy": PrefixPolicy(router),
            "RulePolicy": RulePolicy(
                rules_loader(path, routes={"loopback"}), fallback=PrefixPolicy(router)
            ),
        }
        batch = records(args.n)
        best = {name: float("inf") for name in engines}
        for _ in range(args.repeat):  # interleaved: a noisy moment hits both alike
            for name, engine in engines.items():
                best[name] = min(best[name], per_message_us(engine, router, batch))
    for name, us in best.items():
        print(f"  {name:<14} {us:6.2f} µs CPU per message (best of {args.repeat})")
    print(f"  the rules cost {best['RulePolicy'] - best['PrefixPolicy']:.2f} µs more per message")


if __name__ == "__main__":
    main()
