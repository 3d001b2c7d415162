"""The compiled policy (issue 11): rules, windows, lists, sender-ID and velocity rules, route
settings, prices and number ranges, as one immutable `RuleSet` that `RulePolicy` swaps whole.

What this is for: matching a message (`Subject`) against rules quickly and explainably. Each
rule's conditions are compiled once (regexes, sets, windows in the file's zone) into
`Condition`s: a test for the hot path and, for `explain`, the text of what it checks and of what
the message had. Rules are found by the destination's prefix through a dict per prefix length
(`PrefixMap`), longest first, so 100,000 prefixes cost one dict probe per distinct length.

Order of evaluation: rules whose prefix matches, longest matched prefix first (then file
order), then rules without a prefix, in file order. What is not here: reading files (routing's
policy_file.py), state that changes per message (velocity counters, route health: velocity.py,
health.py) and the decision itself (rule_policy.py). No I/O, no clock: time comes in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from operator import attrgetter
from typing import Final, Generic, TypeVar
from zoneinfo import ZoneInfo

from opensmsc.routing.decision import Action, Decision, Rewrite
from opensmsc.store import Address

__all__ = [
    "Condition",
    "LcrSettings",
    "Lists",
    "OptOutSettings",
    "Place",
    "PrefixMap",
    "RouteSettings",
    "Rule",
    "RuleSet",
    "SenderIdRule",
    "SourceKind",
    "Step",
    "Subject",
    "VelocitySpec",
    "Window",
    "live_rules",
]

V = TypeVar("V")
DAY_NAMES: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # weekday() order
_URL: Final = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
ALPHANUMERIC_TON: Final = 5  # SMPP 3.4 §5.2.5


class SourceKind(StrEnum):
    ALPHANUMERIC = "alphanumeric"
    SHORT_CODE = "short_code"
    LONG_NUMBER = "long_number"


def source_kind(source: Address, short_code_max_digits: int) -> SourceKind:
    """Alphanumeric (TON 5, or anything but digits), a short code (at most
    `short_code_max_digits` digits) or a long number."""
    digits = source.addr[1:] if source.addr.startswith("+") else source.addr
    if source.ton == ALPHANUMERIC_TON or not (digits.isascii() and digits.isdigit()):
        return SourceKind.ALPHANUMERIC
    return SourceKind.SHORT_CODE if len(digits) <= short_code_max_digits else SourceKind.LONG_NUMBER


class PrefixMap(Generic[V]):
    """Digit prefix → value, looked up longest first: one dict per prefix length."""

    def __init__(self, items: Mapping[str, V]) -> None:
        by_length: dict[int, dict[str, V]] = {}
        for prefix, value in items.items():
            by_length.setdefault(len(prefix), {})[prefix] = value
        self._by_length = sorted(by_length.items(), reverse=True)

    def __len__(self) -> int:
        return sum(len(table) for _, table in self._by_length)

    def __bool__(self) -> bool:
        return bool(self._by_length)

    def keys(self) -> set[str]:
        return {prefix for _, table in self._by_length for prefix in table}

    def longest(self, digits: str) -> tuple[str, V] | None:
        for length, table in self._by_length:
            # A table holds prefixes of its length only, so a shorter `digits` never matches.
            value = table.get(digits[:length])
            if value is not None:
                return digits[:length], value
        return None

    def matches(self, digits: str) -> Iterator[tuple[str, V]]:
        """Every prefix of `digits` held here with its value, longest first."""
        for length, table in self._by_length:
            value = table.get(digits[:length])
            if value is not None:
                yield digits[:length], value


@dataclass(frozen=True, slots=True)
class Window:
    """Hours `start_min`..`end_min` (minutes from midnight, local time in `zone`) on `days`
    (0 = Monday); `end_min <= start_min` runs past midnight into the next day."""

    name: str
    zone: ZoneInfo
    days: frozenset[int]
    start_min: int
    end_min: int

    def contains(self, now: datetime) -> bool:
        local = now.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        day = local.weekday()
        if self.start_min < self.end_min:
            return day in self.days and self.start_min <= minute < self.end_min
        return (day in self.days and minute >= self.start_min) or (
            (day - 1) % 7 in self.days and minute < self.end_min
        )

    def next_start(self, now: datetime) -> datetime | None:
        """The first start of the window after `now` (aware), None when it has no days."""
        local = now.astimezone(self.zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(8):
            day = midnight + timedelta(days=offset)
            if day.weekday() in self.days:
                # Wall-clock arithmetic on an aware datetime: the local start, DST included.
                start = (day + timedelta(minutes=self.start_min)).replace(fold=0)
                if start.astimezone(self.zone) > local:
                    return start
        return None


@dataclass(frozen=True, slots=True)
class Step:
    """One thing `explain` looked at: its `stage` ("lists", "rule", "velocity", "route" ...),
    its `name`, whether it `matched` (applied) and `why`."""

    stage: str
    name: str
    matched: bool
    why: str


@dataclass(slots=True)
class Subject:
    """A message as the rules see it: `digits` the destination in E.164 digits (its text as
    given when it is no number), `text` the content sample if any. Not frozen: one is made
    per message and a frozen dataclass's __init__ costs a microsecond more; nothing changes
    it once made."""

    account: str
    source: Address
    kind: SourceKind
    digits: str
    mcc_mnc: str | None
    service_type: str
    text: str | None
    now: datetime
    seconds: float = 0.0  # `now` as epoch seconds, for counters
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Condition:
    """One check of a rule: `test` for deciding, `label` and `actual` for explaining;
    `reads_content`: it looks at the message text."""

    label: str
    test: Callable[[Subject], bool]
    actual: Callable[[Subject], str]
    reads_content: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A compiled `[[rule]]`. `rewrite` holds only the fields the rule sets."""

    index: int
    name: str
    prefixes: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = ()
    routes: tuple[str, ...] = ()
    reject: tuple[int, str] | None = None
    throttle_ms: int | None = None
    defer_until: Window | None = None
    rewrite: Rewrite | None = None
    final: bool = False
    ends: Decision | None = field(init=False)  # the reject or throttle, made once
    # Every condition in one call (`matches`, or the one condition's own test); None when
    # the rule has none.
    test: Callable[[Subject], bool] | None = field(init=False)
    # A condition looks at the text: the rule never matches a message without one.
    reads_content: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reads_content", any(c.reads_content for c in self.conditions))
        test: Callable[[Subject], bool] | None = None
        if len(self.conditions) == 1:
            test = self.conditions[0].test
        elif self.conditions:
            test = self.matches
        object.__setattr__(self, "test", test)
        ends: Decision | None = None
        if self.reject is not None:
            status, reason = self.reject
            ends = Decision.reject(status, reason or f'rule "{self.name}"')
        elif self.throttle_ms is not None:
            ends = Decision(
                action=Action.THROTTLE,
                retry_after_ms=self.throttle_ms,
                reason=f'rule "{self.name}"',
            )
        object.__setattr__(self, "ends", ends)

    def matches(self, subject: Subject) -> bool:
        for condition in self.conditions:  # noqa: SIM110 (a loop: no generator per message)
            if not condition.test(subject):
                return False
        return True

    def why_not(self, subject: Subject) -> str | None:
        """What failed, or None when the rule matches (the same tests as `matches`)."""
        for condition in self.conditions:
            if not condition.test(subject):
                return f"{condition.label}: got {condition.actual(subject)}"
        return None


# -- conditions ------------------------------------------------------------------------------


def one_of(label: str, values: frozenset[str], attribute: str) -> Condition:
    """The Subject's `attribute` is one of `values`."""
    shown = ", ".join(f'"{value}"' for value in sorted(values))
    get: Callable[[Subject], str | None] = attrgetter(attribute)
    return Condition(
        f"{label} in [{shown}]",
        lambda subject: get(subject) in values,
        lambda subject: _show(get(subject)),
    )


def source_pattern(pattern: str) -> Condition:
    compiled = re.compile(pattern)
    return Condition(
        f"source ~ /{pattern}/",
        lambda subject: compiled.search(subject.source.addr) is not None,
        lambda subject: _show(subject.source.addr),
    )


def in_window(window: Window, *, inside: bool) -> Condition:
    where = "inside" if inside else "outside"
    return Condition(
        f'{where} window "{window.name}"',
        lambda subject: window.contains(subject.now) is inside,
        lambda subject: subject.now.astimezone(window.zone).strftime("%a %H:%M %Z"),
    )


def keywords(words: tuple[str, ...]) -> Condition:
    compiled = re.compile(
        r"(?<!\w)(?:" + "|".join(re.escape(word) for word in words) + r")(?!\w)", re.IGNORECASE
    )
    return _content(f"text has a keyword of {list(words)}", compiled.search)


def url(pattern: str) -> Condition:
    compiled = re.compile(pattern, re.IGNORECASE)

    def search(text: str) -> bool:
        return any(compiled.search(found) for found in _URL.findall(text))

    return _content(f"a URL ~ /{pattern}/", search)


def content_regex(pattern: str) -> Condition:
    compiled = re.compile(pattern)
    return _content(f"text ~ /{pattern}/", compiled.search)


def _content(label: str, search: Callable[[str], object]) -> Condition:
    return Condition(
        label,
        lambda subject: subject.text is not None and bool(search(subject.text)),
        lambda subject: "no content" if subject.text is None else _show(subject.text[:40]),
        reads_content=True,
    )


def _show(value: str | None) -> str:
    return "none" if value is None else f'"{value}"'


# -- the rest of the policy ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Lists:
    """Sources compare case-insensitively (sender IDs); destinations are E.164 prefixes."""

    block_sources: frozenset[str] = frozenset()
    allow_sources: frozenset[str] = frozenset()
    block_destinations: PrefixMap[bool] = field(default_factory=lambda: PrefixMap({}))
    allow_destinations: PrefixMap[bool] | None = None
    status: int = 0x66

    @property
    def empty(self) -> bool:
        return not (
            self.block_sources
            or self.allow_sources
            or self.block_destinations
            or self.allow_destinations is not None
        )

    def refusal(self, source: str, digits: str) -> str | None:
        """Why the lists refuse this pair, or None."""
        folded = source.casefold()
        if folded in self.block_sources:
            return f'source "{source}" is on the block list'
        if self.allow_sources and folded not in self.allow_sources:
            return f'source "{source}" is not on the allow list'
        blocked = self.block_destinations.longest(digits)
        if blocked is not None:
            return f"destination prefix {blocked[0]} is on the block list"
        if self.allow_destinations is not None and self.allow_destinations.longest(digits) is None:
            return f"destination {digits} is not on the allow list"
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class OptOutSettings:
    short_codes: frozenset[str] = frozenset()
    stop_words: frozenset[str] = frozenset()
    start_words: frozenset[str] = frozenset()
    all_senders: bool = False  # scope "all": a STOP opts out of every sender
    status: int = 0x66


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderIdRule:
    prefix: str
    allow_kinds: frozenset[SourceKind]
    registered: frozenset[str]  # casefolded; empty: any alphanumeric sender
    replace_with: Address | None
    status: int

    def refusal(self, source: Address, kind: SourceKind) -> str | None:
        if kind not in self.allow_kinds:
            return f"{kind} senders are not allowed to prefix {self.prefix}"
        if (
            kind is SourceKind.ALPHANUMERIC
            and self.registered
            and source.addr.casefold() not in self.registered
        ):
            return f'sender ID "{source.addr}" is not registered for prefix {self.prefix}'
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class VelocitySpec:
    name: str
    prefix_length: int
    limit: int
    window_s: float
    accounts: frozenset[str]  # empty: every account
    reject: bool  # else throttle
    status: int
    max_keys: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteSettings:
    name: str
    weight: int = 1
    max_per_second: float = 0.0
    priority_share: float = 0.2


@dataclass(frozen=True, slots=True, kw_only=True)
class LcrSettings:
    quality_window_s: int = 600
    success_step: float = 0.05
    latency_step_ms: int = 250
    min_reports: int = 5
    failures: int = 3
    blacklist_s: float = 30.0


_NO_ROUTE_SETTINGS: Final = RouteSettings(name="")


@dataclass(frozen=True, slots=True)
class Place:
    """What the policy knows of a destination by its prefixes: `rules`, the rules it may
    match in evaluation order, each with the prefix it matched ("" for a rule without
    prefixes); `mcc_mnc`, its network by the number ranges (None: no range holds it)."""

    rules: tuple[tuple[Rule, str], ...]
    mcc_mnc: str | None
    # `rules` without those that can change no decision (`live_rules`): what deciding reads;
    # `textless` also without those that read the text, which no message without one meets.
    live: tuple[Rule, ...]
    textless: tuple[Rule, ...]


def _place(rules: tuple[tuple[Rule, str], ...], mcc_mnc: str | None) -> Place:
    live = live_rules(rule for rule, _ in rules)
    return Place(rules, mcc_mnc, live, tuple(rule for rule in live if not rule.reads_content))


def live_rules(rules: Iterable[Rule]) -> tuple[Rule, ...]:
    """`rules` (in evaluation order) without those that can change no decision: a rule with
    no effect at all, and a rule that only routes once a rule that always matches has routed
    (the first matching rule that routes sets the routes; later ones are ignored)."""
    live: list[Rule] = []
    routed = False  # whether a rule before always matches and routes
    for rule in rules:
        only_routes = not (
            rule.final
            or rule.ends is not None
            or rule.defer_until is not None
            or rule.rewrite is not None
        )
        if only_routes and (routed or not rule.routes):
            continue
        live.append(rule)
        if rule.routes and not rule.conditions:
            routed = True
    return tuple(live)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleSet:
    """One loaded policy; never changed after it is built (a reload builds another)."""

    source: str = "<empty>"  # the file it came from, for messages
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    rules: tuple[Rule, ...] = ()
    default_routes: tuple[str, ...] = ()
    short_code_max_digits: int = 8
    lists: Lists = field(default_factory=Lists)
    opt_out: OptOutSettings = field(default_factory=OptOutSettings)
    sender_ids: PrefixMap[SenderIdRule] = field(default_factory=lambda: PrefixMap({}))
    velocity: tuple[VelocitySpec, ...] = ()
    routes: Mapping[str, RouteSettings] = field(default_factory=dict)
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # route → mcc_mnc
    networks: PrefixMap[str] = field(default_factory=lambda: PrefixMap({}))
    lcr: LcrSettings = field(default_factory=LcrSettings)
    # prefix → what a destination whose longest known prefix (of a rule or a number range)
    # this is gets: every rule it may match, in evaluation order with the prefix each matched,
    # and its MCC-MNC from the number ranges. Built once, so a message costs one probe per
    # prefix length for both, and no merging or de-duplication.
    _places: PrefixMap[Place] = field(init=False)
    _nowhere: Place = field(init=False)  # a destination no prefix matches
    capped: bool = field(init=False)  # whether any route has a cap (max_per_second)
    # Whether a message may meet the block/allow lists or a sender-ID rule at all.
    screens: bool = field(init=False)
    # Whether any rule looks at the text: the node decodes it for the query only then.
    reads_content: bool = field(init=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for prefix in dict.fromkeys(rule.prefixes):
                grouped.setdefault(prefix, []).append(rule)
        chains: dict[str, tuple[tuple[Rule, str], ...]] = {}
        for prefix in sorted(grouped, key=len):  # a prefix's ancestors have their chains
            own = grouped[prefix]
            parent: tuple[tuple[Rule, str], ...] = ()
            for length in range(len(prefix) - 1, 0, -1):
                found = chains.get(prefix[:length])
                if found is not None:
                    parent = found
                    break
            mine = {rule.index for rule in own}
            chains[prefix] = tuple((rule, prefix) for rule in own) + tuple(
                pair for pair in parent if pair[0].index not in mine
            )
        unprefixed = tuple((rule, "") for rule in self.rules if not rule.prefixes)
        rule_chains = PrefixMap(chains)
        places: dict[str, Place] = {}
        # The longest known prefix P of a destination has, as its own longest rule prefix and
        # longest range, those of the destination: both are prefixes of the destination no
        # longer than P, so prefixes of P.
        for prefix in chains.keys() | self.networks.keys():
            chain = rule_chains.longest(prefix)
            network = self.networks.longest(prefix)
            places[prefix] = _place(
                (chain[1] + unprefixed) if chain is not None else unprefixed,
                None if network is None else network[1],
            )
        object.__setattr__(self, "_places", PrefixMap(places))
        object.__setattr__(self, "_nowhere", _place(unprefixed, None))
        object.__setattr__(self, "screens", not self.lists.empty or bool(self.sender_ids))
        object.__setattr__(
            self, "capped", any(route.max_per_second > 0 for route in self.routes.values())
        )
        object.__setattr__(
            self,
            "reads_content",
            any(rule.reads_content for rule in self.rules),
        )

    def place(self, digits: str) -> Place:
        """What the policy knows of a destination (E.164 digits) by its prefixes."""
        found = self._places.longest(digits)
        return self._nowhere if found is None else found[1]

    def candidates(self, digits: str) -> tuple[tuple[Rule, str], ...]:
        """The rules that may match a destination, in evaluation order, each with the prefix
        it matched ("" for a rule without prefixes)."""
        return self.place(digits).rules

    def route_settings(self, name: str) -> RouteSettings:
        return self.routes.get(name, _NO_ROUTE_SETTINGS)

    def price(self, route: str, mcc_mnc: str | None) -> float | None:
        """The price of one part on `route` to `mcc_mnc` (its "*" row when it has no row of
        that network); None when the price list does not say."""
        table = self.prices.get(route)
        if table is None:
            return None
        if mcc_mnc is not None:
            price = table.get(mcc_mnc)
            if price is not None:
                return price
        return table.get("*")
