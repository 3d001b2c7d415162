"""The node's policy engine: the rules of `[routing] policy_file` (routing's `RulePolicy`) when
the configuration names one, else today's prefix routing (`PrefixPolicy`); either way over the
same Router the scheduler uses, whose prefix routing also routes what no rule routes.

The node builds one engine (`node_policy`) that its acceptor and scheduler ask for every
message (engine/decisions.py) and that the policy server serves (`served_policy`): one set of
route health, velocity counters and opt-outs, fed by the node's own attempts.

`NodePolicy` wraps that engine with what needs I/O or the event loop:

- `reload()`: the policy file, its price list and lists read again in a worker thread (the
  loop keeps deciding with the old policy meanwhile), then swapped in one assignment on the
  loop, so every decision uses the old policy or the new one, never a mix; a file with an
  error changes nothing and the errors name file, line and key. SIGHUP (app/reload.py) and
  `POST /v1/policy/reload` on the admin API (`opensmsc policy reload`) call it; one runs at a
  time.
- `on_mo(pdu)`: every MO the node receives (upstream.MoIngress's observer): a stop word to an
  opt-out short code opts the handset out, a start word back in; the change is written to
  `data_dir/opt_outs.sqlite3` (routing/opt_outs.py) before it takes effect, and what is there
  is restored at start, so opt-outs survive a restart (kill -9 included). In a cluster on
  PostgreSQL the pairs are one table for every node instead (app/opt_outs_shared.py), each
  change told to the other nodes on the bus, and the table read again every 30 s.

Also used by `opensmsc route explain` (cli/route.py) through `policy_engine`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opensmsc.app.opt_outs_shared import RESYNC as OPT_OUT_RESYNC
from opensmsc.app.opt_outs_shared import SharedOptOuts
from opensmsc.cluster import Bus
from opensmsc.config import Config
from opensmsc.errors import ConfigError, MessageRejected, StartupError, StoreUnavailable
from opensmsc.logtext import peer_text
from opensmsc.routing import (
    LOOPBACK,
    AccountPolicies,
    Decision,
    LoopbackRoute,
    NumberPortability,
    OptOutFile,
    PolicyEngine,
    PolicyFileError,
    PrefixPolicy,
    RouteQuery,
    Router,
    RouteReport,
    RulePolicy,
    rules_loader,
)
from opensmsc.smpp import CommandStatus, DataSm, DeliverSm, EsmClass, Tag
from opensmsc.sms import (
    Alphabet,
    UdhError,
    UserDataHeader,
    decode_payload,
    parse_data_coding,
    parse_udh,
)

__all__ = [
    "KnownAccounts",
    "NodePolicy",
    "RouteNames",
    "mo_text",
    "node_policy",
    "policy_engine",
    "route_names",
    "rule_policy",
    "served_policy",
    "standin_router",
]

log = logging.getLogger(__name__)


def route_names(config: Config) -> set[str]:
    """The routes a policy may name: the loopback, the simulated network, the connectors."""
    return {LOOPBACK, "network", *(client.name for client in config.smpp.client)}


class RouteNames(Collection[str]):
    """The route names a policy file may use, swapped whole when a reload adds or removes a
    connector (`names`), so the next policy reload may name a connector added live."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def rule_policy(
    config: Config,
    *,
    router: Router,
    policies: AccountPolicies | None = None,
    portability: NumberPortability | None = None,
    routes: Collection[str] | None = None,
) -> RulePolicy:
    """The RulePolicy of `config.routing.policy_file` (which must be set). Raises ConfigError
    (a PolicyFileError with every error) for a bad policy file."""
    path = config.routing.policy_file
    if path is None:
        raise ValueError("no [routing] policy_file")
    return RulePolicy(
        rules_loader(path, routes=route_names(config) if routes is None else routes),
        portability=portability,
        fallback=PrefixPolicy(router, policies),
    )


def policy_engine(
    config: Config,
    *,
    router: Router,
    policies: AccountPolicies | None = None,
    portability: NumberPortability | None = None,
    routes: Collection[str] | None = None,
) -> PolicyEngine:
    if config.routing.policy_file is None:
        return PrefixPolicy(router, policies)
    return rule_policy(
        config, router=router, policies=policies, portability=portability, routes=routes
    )


def standin_router(config: Config) -> Router:
    """The Router of `[routing]` with a stand-in for each route, for tools that decide without
    running the node (`route explain`): the names matter, not the routes."""
    return Router(
        {name: LoopbackRoute(name) for name in route_names(config)},
        default_route=config.routing.default_route,
        prefixes=[(r.prefix, r.route) for r in config.routing.routes if r.enabled],
    )


def mo_text(pdu: DeliverSm | DataSm) -> str | None:
    """The text of an MO (short_message or message_payload, without its UDH), or None when
    it has none we can read (binary data, an alphabet without a decoder, a broken UDH)."""
    data = pdu.short_message if isinstance(pdu, DeliverSm) else b""
    if not data and pdu.tlvs:
        payload = pdu.tlvs.get(Tag.MESSAGE_PAYLOAD)
        data = payload if isinstance(payload, bytes) else b""
    if parse_data_coding(pdu.data_coding).alphabet is Alphabet.BINARY:
        return None  # 8-bit data: a keyword is text
    header = UserDataHeader()
    if pdu.esm_class & EsmClass.UDHI:
        try:
            header, data = parse_udh(data)
        except UdhError:
            return None
    return decode_payload(pdu.data_coding, bytes(data), header)


class NodePolicy:
    """The node's policy engine with its reload and its opt-outs (module doc). A service:
    `start` restores the opt-outs kept in `data_dir`, `stop` closes their file."""

    name = "policy"

    def __init__(self, config: Config, engine: PolicyEngine, *, bus: Bus | None = None) -> None:
        self.engine = engine
        self.rules = engine if isinstance(engine, RulePolicy) else None
        self._data_dir: Path = config.node.data_dir
        self._opt_outs: OptOutFile | None = None
        # A cluster on PostgreSQL: the opt-outs of every node in one table, changes told on
        # the bus (app/opt_outs_shared.py).
        cluster = config.cluster
        self._shared = (
            None
            if cluster is None or cluster.postgres is None
            else SharedOptOuts(cluster.postgres, cluster.name)
        )
        self._bus = bus
        self._resync: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.reloaded_at: datetime | None = None

    async def start(self) -> None:
        if self.rules is None:
            return  # no policy file: no opt-out settings, nothing to keep
        if self._shared is not None:
            try:
                pairs = await self._shared.pairs()
            except StoreUnavailable as exc:
                raise StartupError(f"policy opt-outs: {exc}") from exc
            self.rules.restore_opt_outs(pairs)
            log.info("policy opt-outs restored count=%d in %s", len(pairs), self._shared.path)
            if self._bus is not None:
                self._bus.subscribe(self._bus.subject("policy", "opt_out"), self._on_opt_out)
            self._resync = asyncio.get_running_loop().create_task(self._read_again())
            return
        self._opt_outs = await asyncio.to_thread(OptOutFile.in_folder, self._data_dir)
        pairs = await asyncio.to_thread(self._opt_outs.pairs)
        self.rules.restore_opt_outs(pairs)
        log.info("policy opt-outs restored count=%d file=%s", len(pairs), self._opt_outs.path)

    async def stop(self) -> None:
        if self._resync is not None:
            self._resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resync
        if self._shared is not None:
            await self._shared.close()
        if self._opt_outs is not None:
            self._opt_outs.close()

    def _on_opt_out(self, subject: str, payload: bytes) -> None:
        """Another node's opt-out change, applied as it says (the table has it already)."""
        if self.rules is None:
            return
        try:
            change = json.loads(payload)
            pair, out = (str(change["handset"]), str(change["sender"])), bool(change["out"])
        except (ValueError, KeyError, TypeError):
            log.warning("opt-out hint not understood: %r", payload[:200])
            return
        self.rules.set_opted_out(pair, out)

    async def _read_again(self) -> None:
        assert self._shared is not None and self.rules is not None
        while True:
            await asyncio.sleep(OPT_OUT_RESYNC)
            try:
                self.rules.replace_opt_outs(await self._shared.pairs())
            except StoreUnavailable as exc:
                log.warning("policy opt-outs not read again: %s", exc)

    def summary(self) -> dict[str, Any] | None:
        """What the policy in force holds (GET /v1/policy), or None without a policy file."""
        if self.rules is None:
            return None
        rules = self.rules.rules
        return {
            "source": rules.source,
            "rules": len(rules.rules),
            "default_routes": list(rules.default_routes),
            "prices": sum(len(by_network) for by_network in rules.prices.values()),
            "velocity_rules": len(rules.velocity),
            "sender_id_rules": len(rules.sender_ids),
            "opt_out_short_codes": sorted(rules.opt_out.short_codes),
            "opted_out": self.rules.opt_out_count,
            "reloaded_at": None if self.reloaded_at is None else self.reloaded_at.isoformat(),
        }

    async def reload(self) -> Mapping[str, Any] | None:
        """Read the policy file again and use it from the next decision: the new summary, or
        None when the node has no policy file. Raises PolicyFileError (every error, each with
        file, line and key) and keeps the policy in force."""
        if self.rules is None:
            return None
        rules = self.rules
        async with self._lock:
            try:
                loaded = await asyncio.to_thread(rules.load)
            except ConfigError as exc:
                errors: list[ConfigError] = list(getattr(exc, "errors", None) or [exc])
                log.error(
                    "policy not reloaded: %d error%s; the policy in force is kept",
                    len(errors),
                    "" if len(errors) == 1 else "s",
                )
                for error in errors:
                    log.error("policy error: %s", error)
                raise exc if isinstance(exc, PolicyFileError) else PolicyFileError(errors) from exc
            rules.adopt(loaded)  # on the loop: between two decisions, never during one
            self.reloaded_at = datetime.now(UTC)
            summary = self.summary()
            assert summary is not None
            log.info(
                "policy reloaded file=%s rules=%d prices=%d",
                summary["source"],
                summary["rules"],
                summary["prices"],
            )
            return summary

    async def on_mo(self, pdu: DeliverSm | DataSm) -> None:
        """MoIngress's observer: a stop or start word to an opt-out short code changes the
        handset's opt-out, durably, before the MO is acknowledged. Raises MessageRejected
        (ESME_RX_T_APPN: the network retries) when the change cannot be written."""
        if self.rules is None or (self._opt_outs is None and self._shared is None):
            return
        if pdu.destination_addr not in self.rules.rules.opt_out.short_codes:
            return  # the usual MO: not decoded at all
        text = mo_text(pdu)
        if text is None:
            return
        change = self.rules.opt_out_change(pdu.source_addr, pdu.destination_addr, text)
        if change is None:
            return
        pair, out = change
        try:
            if self._shared is not None:
                await self._shared.set(pair, out)
            else:
                assert self._opt_outs is not None
                await self._opt_outs.set(pair, out)
        except Exception as exc:
            log.error("opt-out not recorded handset=%s: %s", peer_text(pdu.source_addr), exc)
            raise MessageRejected(CommandStatus.ESME_RX_T_APPN, "opt-out not recorded") from exc
        self.rules.set_opted_out(pair, out)
        if self._bus is not None and self._shared is not None:
            hint = {"handset": pair[0], "sender": pair[1], "out": out}
            try:
                await self._bus.publish(
                    self._bus.subject("policy", "opt_out"), json.dumps(hint).encode()
                )
            except Exception as exc:  # a hint: the others read the table again within RESYNC
                log.warning("opt-out not announced on the bus: %s", exc)
        log.info(
            "opt-%s handset=%s sender=%s",
            "out" if out else "in",
            pair[0],
            pair[1],
        )


def node_policy(
    config: Config,
    *,
    portability: NumberPortability | None = None,
    routes: Collection[str] | None = None,
) -> Callable[[Router], PolicyEngine]:
    """What makes the node's engine over the engine's Router (StoreAndForward's `policy`). No
    account check: the front doors authenticated the account already, and the simulated
    network's person-to-person MT comes from a pseudo-account. Raises ConfigError for a bad
    policy file when called. `routes`: the route names its policy file may use (RouteNames,
    which reloads keep current); by default the configuration's."""

    def make(router: Router) -> PolicyEngine:
        return policy_engine(config, router=router, portability=portability, routes=routes)

    return make


def served_policy(node: PolicyEngine, router: Router, policies: AccountPolicies) -> PolicyEngine:
    """The engine the policy server answers from: the node's own rule engine (so its answers
    follow the node's route health) refusing accounts the configuration does not name, or
    without a policy file the prefix routing with that check."""
    if isinstance(node, RulePolicy):
        return KnownAccounts(node, policies)
    return PrefixPolicy(router, policies)


class KnownAccounts:
    """A PolicyEngine that answers ESME_RINVSYSID for an account `policies` does not name
    (when it names any) and asks `engine` for the others; reports go to `engine`."""

    def __init__(self, engine: PolicyEngine, policies: AccountPolicies) -> None:
        self.engine = engine
        self._accounts = policies  # read at each decision: reloads change it

    def decide(self, query: RouteQuery, now: datetime) -> Decision:
        if len(self._accounts) and query.account not in self._accounts:
            return Decision.reject(
                CommandStatus.ESME_RINVSYSID, f'unknown account "{query.account}"'
            )
        return self.engine.decide(query, now)

    def report(self, report: RouteReport, now: datetime) -> None:
        self.engine.report(report, now)
