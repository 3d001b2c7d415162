"""`RulePolicy`: the rule engine of issue 11 behind the `PolicyEngine` seam.

What this is for: each message's fate from the loaded `RuleSet` (rules.py), the live route
health (health.py: least cost, quality, failover, caps) and velocity counters (velocity.py). In
order: the destination (E.164 digits, its MCC-MNC from portability or the number ranges), the
block and allow lists, opt-outs, sender-ID rules, the rules, velocity, then the routes.

How rules combine: the most specific matching rule (rules.py's order) decides each effect: the
route list, the deferral, each rewrite field. A reject or throttle ends the evaluation at once,
as does a rule marked `final` after it has contributed. So a general rule (a keyword block
without a prefix) still applies under a more specific one that only routes.

`explain` runs the same stages without changing any state (no counters, no probes, no
tokens) and returns every step with why it matched or not; `decide` takes a shorter path to
the same decision (rules that cannot change it left out at load, the usual routed answer
without the failover steps), which a property test holds to `explain`'s. `reload` swaps the
rule set in one assignment: `decide` reads it once per message, so no message sees half of
two sets. What it is not: file reading (policy_file.py hands a loader in) or waiting: no I/O,
no clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from opensmsc.errors import ConfigError
from opensmsc.routing.decision import (
    Action,
    Decision,
    PolicyEngine,
    Rewrite,
    RouteChoice,
    RouteQuery,
    RouteReport,
)
from opensmsc.routing.health import RouteHealth
from opensmsc.routing.numbering import InvalidNumber, Numbering
from opensmsc.routing.portability import NumberPortability
from opensmsc.routing.rules import Place, Rule, RuleSet, SourceKind, Step, Subject, source_kind
from opensmsc.routing.velocity import SlidingWindow
from opensmsc.smpp import CommandStatus

__all__ = ["Explanation", "RulePolicy", "Step"]

_CACHE_LIMIT = 10_000
# Routed decisions are one per ranking and rule: with 10,000 rules over a few rankings, a
# bound of _CACHE_LIMIT emptied the cache every few thousand messages and a third of the
# decisions were built again (issue 11's bench: 75,000 decisions/s, 110,000 with this bound).
# An entry is a tuple and a Decision (about 400 octets): some 40 MB at the bound.
_ROUTED_LIMIT = 100_000
Counted = tuple[SlidingWindow, tuple[str, str]]
_STATUS_NAMES = {int(member): name for name, member in CommandStatus.__members__.items()}


@dataclass(frozen=True, slots=True)
class Explanation:
    decision: Decision
    steps: tuple[Step, ...]

    def lines(self) -> list[str]:
        """The decision then every step, as text for an operator."""
        d = self.decision
        head = f"decision: {d.action}"
        if d.routes:
            head += " via " + ", ".join(_show_choice(choice) for choice in d.routes)
        if d.status:
            head += f" status {_STATUS_NAMES.get(d.status, hex(d.status))}"
        if d.retry_after_ms is not None:
            head += f" retry_after_ms {d.retry_after_ms}"
        if d.reason:
            head += f" ({d.reason})"
        out = [head]
        if d.rewrite is not None and not d.rewrite.is_empty:
            out.append(f"rewrite: {_show_rewrite(d.rewrite)}")
        for step in self.steps:
            mark = "+" if step.matched else "-"
            out.append(f"  {mark} {step.stage} {step.name}: {step.why}")
        return out


@dataclass(slots=True)
class _Verdict:
    """What the evaluation found so far (one per message)."""

    routes: tuple[str, ...] | None = None
    route_rule: str = ""
    defer_ms: int | None = None
    defer_reason: str = ""
    rewrite: dict[str, object] | None = None  # made by the first rule that rewrites
    ended: Decision | None = None


class RulePolicy:
    """The rule engine. `load` returns a new `RuleSet` or raises ConfigError (a
    `PolicyFileError` carries them all); it is called once here and by each `reload`.
    `fallback` routes what no rule and no default_routes route (the node's prefix router);
    `portability` corrects the MCC-MNC of ported numbers."""

    def __init__(
        self,
        load: Callable[[], RuleSet],
        *,
        numbering: Numbering | None = None,
        portability: NumberPortability | None = None,
        fallback: PolicyEngine | None = None,
    ) -> None:
        self._load = load
        self._numbering = numbering or Numbering()
        # Without strict numbering, digits not starting with 0 are E.164 digits as they are.
        self._plain_digits = not self._numbering.strict
        self._portability = portability
        self._fallback = fallback
        self._rules = load()
        self._velocity: dict[str, SlidingWindow] = {}
        self._adopt(self._rules)
        self._opted_out: set[tuple[str, str]] = set()  # (handset digits, short code or "*")
        self.health = RouteHealth(self._rules.lcr)
        self._route_decisions: dict[tuple[int, str], tuple[tuple[RouteChoice, ...], Decision]] = {}
        # (source addr, ton) → its kind, for the rule set in use (its short_code_max_digits).
        self._kinds: dict[tuple[str, int], SourceKind] = {}

    @property
    def rules(self) -> RuleSet:
        return self._rules

    @property
    def reads_content(self) -> bool:
        """Whether a rule in use looks at the text (keywords, URLs, regex): an asker that must
        decode the text to share it may skip that otherwise."""
        return self._rules.reads_content

    def reload(self) -> list[ConfigError]:
        """Load the policy again and use it from the next message; on errors keep the rules in
        use and return the errors (every one, when the loader raises a PolicyFileError)."""
        try:
            rules = self.load()
        except ConfigError as exc:
            return list(getattr(exc, "errors", None) or [exc])
        self.adopt(rules)
        return []

    def load(self) -> RuleSet:
        """The policy read again, not yet in use: for a caller that reads off the event loop
        (a thread) and then `adopt`s on it. Changes nothing here. Raises ConfigError."""
        return self._load()

    def adopt(self, rules: RuleSet) -> None:
        """Use `rules` from the next message on. Velocity counters of unchanged rules, route
        health and opt-outs carry over."""
        self.health.configure(rules.lcr)
        self._adopt(rules)
        self._kinds = {}
        self._rules = rules  # the one swap: decide() reads self._rules once per message

    # -- PolicyEngine (decide is with the evaluation, below) -----------------------------------

    def report(self, report: RouteReport, now: datetime) -> None:
        self.health.report(report, now.timestamp())

    def explain(self, query: RouteQuery, now: datetime) -> Explanation:
        """The decision `decide` would give now, and every step that led to it. Changes no
        state: no velocity count, no probe, no cap token."""
        steps: list[Step] = []
        return Explanation(self._evaluate(query, now, steps), tuple(steps))

    # -- opt-out -------------------------------------------------------------------------------

    def on_mo(self, source: str, destination: str, text: str) -> bool | None:
        """A handset's MO `text` from `source` to `destination`: a stop word to an opt-out
        short code opts the handset out (True), a start word opts it back in (False); other
        MO changes nothing (None)."""
        change = self.opt_out_change(source, destination, text)
        if change is None:
            return None
        key, out = change
        self.set_opted_out(key, out)
        return out

    def opt_out_change(
        self, source: str, destination: str, text: str
    ) -> tuple[tuple[str, str], bool] | None:
        """What `on_mo` would do, without doing it: ((handset digits, short code or "*"),
        True to opt out / False to opt in), or None. For a caller that makes the change
        durable before it takes effect. Keywords are matched case-insensitively on the whole
        text, surrounding blanks ignored."""
        settings = self._rules.opt_out
        if destination not in settings.short_codes:
            return None
        word = text.strip().upper()
        if word in settings.stop_words:
            out = True
        elif word in settings.start_words:
            out = False
        else:
            return None
        return (self._digits(source), "*" if settings.all_senders else destination), out

    def set_opted_out(self, key: tuple[str, str], out: bool) -> None:
        """Opt (handset digits, short code or "*") out, or back in."""
        if out:
            self._opted_out.add(key)
        else:
            self._opted_out.discard(key)

    def restore_opt_outs(self, keys: Iterable[tuple[str, str]]) -> None:
        """Opt-outs kept from before a restart, added to those in force."""
        self._opted_out.update(keys)

    def replace_opt_outs(self, keys: Iterable[tuple[str, str]]) -> None:
        """Exactly these opted out, no others (a cluster's shared opt-outs read again)."""
        self._opted_out = set(keys)

    @property
    def opt_out_count(self) -> int:
        return len(self._opted_out)

    def opted_out(self, handset: str, sender: str) -> bool:
        digits = self._digits(handset)
        return (digits, sender) in self._opted_out or (digits, "*") in self._opted_out

    # -- the evaluation ------------------------------------------------------------------------

    def _digits(self, number: str) -> str:
        """A number's E.164 digits; a text that is no number as it is (a short code)."""
        if self._plain_digits and number.isascii() and number.isdigit() and number[0] != "0":
            # Digits already: normalising would return them unchanged or refuse them, and a
            # refused number is matched as given. So the same answer, without the checks.
            return number
        try:
            return str(self._numbering.normalise(number))
        except InvalidNumber:
            return number

    def _subject(self, rules: RuleSet, query: RouteQuery, now: datetime) -> tuple[Subject, Place]:
        """The message as the rules see it, and what its destination's prefixes say."""
        addr = query.destination.addr
        if self._plain_digits and addr.isascii() and addr.isdigit() and addr[0] != "0":
            digits = addr  # what `_digits` answers for these, without the call
        else:
            digits = self._digits(addr)
        place = rules.place(digits)
        mcc_mnc = place.mcc_mnc
        if self._portability is not None and digits.isdigit():
            with contextlib.suppress(InvalidNumber):
                ported = self._portability.lookup(int(digits)).recipient_network
                if ported is not None:
                    mcc_mnc = ported
        source = query.source
        kinds = self._kinds
        key = (source.addr, source.ton)  # what the kind depends on; cheaper than an Address hash
        kind = kinds.get(key)
        if kind is None:
            if len(kinds) >= _CACHE_LIMIT:
                kinds.clear()
            kind = kinds[key] = source_kind(source, rules.short_code_max_digits)
        subject = Subject(
            query.account,
            source,
            kind,
            digits,
            mcc_mnc,
            query.service_type,
            query.content_sample,
            now,
            now.timestamp(),
            query.priority_flag,
        )
        return subject, place

    def decide(self, query: RouteQuery, now: datetime) -> Decision:
        """`_evaluate` without the steps: the same stages and effects, in fewest calls (the
        rules' effects as `_take` applies them)."""
        rules = self._rules  # one rule set for the whole message, whatever reload does
        if not query.destination.addr:
            return Decision.reject(CommandStatus.ESME_RINVDSTADR, "destination addr is empty")
        subject, place = self._subject(rules, query, now)
        verdict = _Verdict()
        if rules.screens or self._opted_out:
            ended = self._screen(rules, subject, verdict, None)
            if ended is not None:
                return ended
        for rule in place.live if subject.text is not None else place.textless:
            test = rule.test
            if test is not None and not test(subject):
                continue
            if rule.ends is not None:
                return rule.ends
            if rule.defer_until is not None or rule.rewrite is not None:
                self._take(rule, subject, verdict)
            elif verdict.routes is None:
                verdict.routes, verdict.route_rule = rule.routes, rule.name
            if rule.final:
                break
        counted: list[Counted] | None = None
        if rules.velocity and not query.redecide:
            counted = []
            ended = self._check_velocity(rules, subject, None, counted)
            if ended is not None:
                return ended
        names = verdict.routes or rules.default_routes
        health = self.health
        if (
            names
            and verdict.rewrite is None
            and verdict.defer_ms is None
            and not rules.capped
            and not health.troubled
        ):
            # The usual answer: routes alone, every one healthy, from the ranking RouteHealth
            # keeps while nothing changes (what `_route` would answer, in fewer steps).
            decision = self._routed(
                health.ranked(rules, names, subject.mcc_mnc, subject.seconds),
                verdict.route_rule if verdict.routes else "",
            )
        else:
            decision = self._route(rules, query, subject=subject, verdict=verdict, now=now)
        if counted and decision.action in (Action.ROUTE, Action.DEFER):
            for counter, key in counted:  # only what goes out counts towards velocity
                counter.hit(key, subject.seconds)
        return decision

    def _routed(self, choices: tuple[RouteChoice, ...], rule: str) -> Decision:
        """A decision to route by `choices`, one per ranking and rule: keyed by the tuple's
        identity (held here, so the id is not reused) and the rule's name. The reason names
        the rule that chose the routes (a message's trail shows it); none for default_routes."""
        key = (id(choices), rule)
        cached = self._route_decisions.get(key)
        if cached is not None and cached[0] is choices:
            return cached[1]
        if len(self._route_decisions) >= _ROUTED_LIMIT:
            self._route_decisions.clear()
        decision = Decision(action=Action.ROUTE, routes=choices, reason=_route_reason(rule))
        self._route_decisions[key] = (choices, decision)
        return decision

    def _evaluate(self, query: RouteQuery, now: datetime, steps: list[Step]) -> Decision:
        """The decision, with every step that led to it in `steps`; no state changes."""
        rules = self._rules
        if not query.destination.addr:
            return Decision.reject(CommandStatus.ESME_RINVDSTADR, "destination addr is empty")
        subject, place = self._subject(rules, query, now)
        steps.append(
            Step(
                "input",
                "destination",
                True,
                f"E.164 {subject.digits}, mcc_mnc {subject.mcc_mnc or 'unknown'}, "
                f"source {subject.kind}",
            )
        )
        verdict = _Verdict()
        ended = (
            self._screen(rules, subject, verdict, steps)
            or self._apply_rules(place.rules, subject, verdict, steps)
            or (
                self._check_velocity(rules, subject, steps, [])
                if rules.velocity and not query.redecide
                else None
            )
        )
        if ended is not None:
            return ended
        return self._route(rules, query, subject=subject, verdict=verdict, now=now, steps=steps)

    def _screen(
        self, rules: RuleSet, subject: Subject, verdict: _Verdict, steps: list[Step] | None
    ) -> Decision | None:
        """Lists, opt-outs and sender-ID rules: a reject, or None (maybe a source rewrite)."""
        lists = rules.lists
        refusal = None if lists.empty else lists.refusal(subject.source.addr, subject.digits)
        if steps is not None:
            steps.append(Step("lists", "block/allow", refusal is not None, refusal or "passed"))
        if refusal is not None:
            return Decision.reject(rules.lists.status, refusal)
        if self._opted_out and self.opted_out(subject.digits, subject.source.addr):
            reason = f"{subject.digits} opted out of {subject.source.addr}"
            if steps is not None:
                steps.append(Step("opt-out", subject.source.addr, True, reason))
            return Decision.reject(rules.opt_out.status, reason)
        found = rules.sender_ids.longest(subject.digits) if rules.sender_ids else None
        if found is None:
            return None
        sender = found[1]
        refusal = sender.refusal(subject.source, subject.kind)
        if refusal is None:
            if steps is not None:
                steps.append(Step("sender-id", sender.prefix, False, "source accepted"))
            return None
        if sender.replace_with is None:
            if steps is not None:
                steps.append(Step("sender-id", sender.prefix, True, refusal + ": rejected"))
            return Decision.reject(sender.status, refusal)
        new = sender.replace_with
        verdict.rewrite = verdict.rewrite or {}
        verdict.rewrite.update(
            source_addr=new.addr, source_addr_ton=new.ton, source_addr_npi=new.npi
        )
        if steps is not None:
            steps.append(
                Step("sender-id", sender.prefix, True, f'{refusal}: source set to "{new.addr}"')
            )
        return None

    def _apply_rules(
        self,
        candidates: tuple[tuple[Rule, str], ...],
        subject: Subject,
        verdict: _Verdict,
        steps: list[Step],
    ) -> Decision | None:
        ended: Decision | None = None
        for rule, prefix in candidates:
            if ended is not None:
                steps.append(Step("rule", rule.name, False, "not reached: decided above"))
                continue
            failed = rule.why_not(subject)
            if failed is not None:
                steps.append(Step("rule", rule.name, False, failed))
                continue
            ended, did = self._take(rule, subject, verdict)
            where = f"prefix {prefix}" if prefix else "no prefix"
            steps.append(Step("rule", rule.name, True, f"{where}; " + "; ".join(did)))
            if rule.final and ended is None:
                ended = _STOP
        return None if ended is _STOP else ended

    def _take(
        self, rule: Rule, subject: Subject, verdict: _Verdict
    ) -> tuple[Decision | None, list[str]]:
        """Apply one matching rule's effects to `verdict`; a reject or throttle decision."""
        did: list[str] = []
        if rule.reject is not None:
            did.append(f"reject {_STATUS_NAMES.get(rule.reject[0], hex(rule.reject[0]))}")
            return rule.ends, did
        if rule.throttle_ms is not None:
            did.append(f"throttle {rule.throttle_ms} ms")
            return rule.ends, did
        if rule.routes:
            if verdict.routes is None:
                verdict.routes, verdict.route_rule = rule.routes, rule.name
                did.append("routes " + ", ".join(rule.routes))
            else:
                did.append(f"routes ignored: {verdict.route_rule} is more specific")
        if rule.defer_until is not None and verdict.defer_ms is None:
            window = rule.defer_until
            if window.contains(subject.now):
                did.append(f'inside window "{window.name}": no deferral')
            else:
                start = window.next_start(subject.now)
                if start is not None:
                    ms = max(0, int((start - subject.now).total_seconds() * 1000))
                    verdict.defer_ms = ms
                    verdict.defer_reason = f'outside window "{window.name}"'
                    did.append(f"defer {ms} ms until {start.isoformat()}")
        if rule.rewrite is not None:
            verdict.rewrite = verdict.rewrite if verdict.rewrite is not None else {}
            for name in Rewrite.__slots__:
                value = getattr(rule.rewrite, name)
                if value not in (None, ()) and name not in verdict.rewrite:
                    verdict.rewrite[name] = value
                    did.append(f"rewrite {name}")
        if rule.final:
            did.append("final")
        return None, did or ["no effect"]

    def _adopt(self, rules: RuleSet) -> None:
        """Counters for the velocity rules of `rules`: kept by name when the rule is the same
        (a reload does not reset them), new for a new or changed rule."""
        counters: dict[str, SlidingWindow] = {}
        for spec in rules.velocity:
            counter = self._velocity.get(spec.name)
            if counter is None or (counter.limit, counter.window, counter.max_keys) != (
                spec.limit,
                spec.window_s,
                spec.max_keys,
            ):
                counter = SlidingWindow(
                    limit=spec.limit, window=spec.window_s, max_keys=spec.max_keys
                )
            counters[spec.name] = counter
        self._velocity = counters

    def _check_velocity(
        self, rules: RuleSet, subject: Subject, steps: list[Step] | None, counted: list[Counted]
    ) -> Decision | None:
        """A throttle or reject for the first velocity rule the message would exceed, else
        None with the counters to count it in (in `counted`), once it is routed."""
        seconds = subject.seconds
        for spec in rules.velocity:
            if spec.accounts and subject.account not in spec.accounts:
                if steps is not None:
                    steps.append(Step("velocity", spec.name, False, "other account"))
                continue
            counter = self._velocity[spec.name]
            key = (subject.account, subject.digits[: spec.prefix_length])
            if counter.allows(key, seconds):
                counted.append((counter, key))
                if steps is not None:
                    steps.append(
                        Step("velocity", spec.name, False, f"range {key[1]} under {spec.limit}")
                    )
                continue
            reason = (
                f'velocity "{spec.name}": {spec.limit} messages to {key[1]} in '
                f"{spec.window_s:g} s from {subject.account}"
            )
            if steps is not None:
                steps.append(Step("velocity", spec.name, True, reason))
            if spec.reject:
                return Decision.reject(spec.status, reason)
            wait_ms = max(1, int(counter.retry_after(key, seconds) * 1000))
            return Decision(action=Action.THROTTLE, retry_after_ms=wait_ms, reason=reason)
        return None

    def _route(
        self,
        rules: RuleSet,
        query: RouteQuery,
        *,
        subject: Subject,
        verdict: _Verdict,
        now: datetime,
        steps: list[Step] | None = None,
    ) -> Decision:
        names = verdict.routes or rules.default_routes
        if not names and self._fallback is not None:
            fallback = self._fallback.decide(query, now)
            if fallback.action is not Action.ROUTE:
                return fallback
            names = tuple(choice.route for choice in fallback.routes)
            if steps is not None:
                steps.append(Step("route", "fallback", True, "no rule routes: [routing] decides"))
        if not names:
            return Decision.reject(CommandStatus.ESME_RSUBMITFAIL, "no rule routes this message")
        choices, waits = self.health.order(
            rules,
            names,
            mcc_mnc=subject.mcc_mnc,
            priority=subject.priority,
            now=subject.seconds,
            steps=steps,
            commit=steps is None,
        )
        rewrite = Rewrite(**verdict.rewrite) if verdict.rewrite else None  # type: ignore[arg-type]
        if not choices:
            if waits.throttle_ms is not None:
                return Decision(
                    action=Action.THROTTLE,
                    retry_after_ms=waits.throttle_ms,
                    reason="every route is at its cap",
                )
            return Decision(
                action=Action.DEFER,
                routes=waits.blacklisted,
                retry_after_ms=waits.defer_ms or 0,
                rewrite=rewrite,
                reason="every route is blacklisted: sent when the first is probed",
            )
        if verdict.defer_ms is not None:
            return Decision(
                action=Action.DEFER,
                routes=choices,
                rewrite=rewrite,
                retry_after_ms=verdict.defer_ms,
                reason=verdict.defer_reason,
            )
        if rewrite is not None:
            return Decision(
                action=Action.ROUTE,
                routes=choices,
                rewrite=rewrite,
                reason=_route_reason(verdict.route_rule if verdict.routes else ""),
            )
        return self._routed(choices, verdict.route_rule if verdict.routes else "")


_STOP = Decision.reject(CommandStatus.ESME_RSYSERR, "stop")  # a marker, never returned


def _route_reason(rule: str) -> str:
    return f'rule "{rule}"' if rule else ""


def _show_choice(choice: RouteChoice) -> str:
    text = choice.route
    if choice.cost is not None:
        text += f" ({choice.cost:g}"
        text += f" to {choice.mccmnc})" if choice.mccmnc else ")"
    return text


def _show_rewrite(rewrite: Rewrite) -> str:
    parts = []
    for name in Rewrite.__slots__:
        value = getattr(rewrite, name)
        if value not in (None, ()):
            parts.append(f"{name}={value!r}")
    return ", ".join(parts)
