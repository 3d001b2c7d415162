"""The policy file (`[routing] policy_file`, issue 11): rules, windows, lists, sender-ID and
velocity rules, route settings and the least-cost parameters, as frozen dataclasses.

A file of its own, not a section of `Config`: it is reloaded while the node runs (routing's
`RulePolicy.reload`) and read by `load_policy`, with errors as `policy.toml:12: rule[3].regex:
...` like the configuration's. `docs/policy.md` documents every key. What the values mean at
decision time is routing's business (routing/rules.py); this module only says what a good file
holds.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Annotated, Literal

from opensmsc.config.rules import (
    Bounds,
    DigitPrefix,
    ExistingFile,
    Match,
    Name,
    NonNegativeInt,
    Octet,
    Parse,
    PositiveInt,
    Problem,
    duplicates,
)
from opensmsc.smpp import CommandStatus


def parse_regex(text: str) -> str:
    """A Python regular expression, kept as text (routing compiles it); ValueError if broken."""
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(str(exc)) from exc
    return text


def parse_zone(text: str) -> str:
    """An IANA time zone name ("Europe/London") that this host's tz database knows."""
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(text) from exc
    return text


def parse_status(text: str) -> str:
    """An SMPP command_status name other than ESME_ROK ("ESME_RINVSRCADR")."""
    if text == "ESME_ROK" or text not in CommandStatus.__members__:
        raise ValueError(text)
    return text


Regex = Annotated[str, Parse(parse_regex, "a regular expression")]
Zone = Annotated[str, Parse(parse_zone, 'an IANA time zone such as "Europe/London"')]
StatusName = Annotated[
    str, Parse(parse_status, 'an SMPP command_status name such as "ESME_RINVSRCADR"')
]
ClockTime = Annotated[str, Match(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00", 'a time "HH:MM"')]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MccMnc = Annotated[str, Match(r"[0-9]{5,6}", "an MCC-MNC of 5 or 6 digits")]
SourceKindName = Literal["alphanumeric", "short_code", "long_number"]
Share = Annotated[float, Bounds("a share from 0 to 1", minimum=0.0, maximum=1.0)]
PerSecond = Annotated[float, Bounds("messages per second (0 for no limit)", minimum=0.0)]
Millis = Annotated[int, Bounds("milliseconds, 1 or more", minimum=1)]
TlvTag = Annotated[int, Bounds("a TLV tag from 0 to 65535", minimum=0, maximum=0xFFFF)]
HexOctets = Annotated[str, Match(r"([0-9A-Fa-f]{2})*", "hex octets such as 0a1b")]


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowConfig:
    """`[[window]]`: named hours on named days in the file's zone; `end` at or before `start`
    runs past midnight (the days are those the window starts on)."""

    name: Name
    days: tuple[Day, ...] = DAYS
    start: ClockTime = "00:00"
    end: ClockTime = "24:00"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlvConfig:
    """A TLV a rule adds: `tag` and `value` in hex octets."""

    tag: TlvTag
    value: HexOctets = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleConfig:
    """`[[rule]]`: conditions (all given ones must hold; a list holds when any item does) and
    effects. The most specific matching rule (longest destination prefix, then file order)
    decides each effect; reject and throttle end the evaluation; `final` ends it after this
    rule."""

    name: Name
    # conditions
    prefix: tuple[DigitPrefix, ...] = ()  # of the destination in E.164 digits
    mcc_mnc: tuple[MccMnc, ...] = ()
    account: tuple[str, ...] = ()
    source_kind: tuple[SourceKindName, ...] = ()
    source: Regex | None = None  # searched in the source address
    service_type: tuple[str, ...] = ()
    window: Name | None = None  # holds inside this window
    outside_window: Name | None = None  # holds outside this window
    keywords: tuple[str, ...] = ()  # whole words, any case
    url: Regex | None = None  # searched in each URL of the text
    regex: Regex | None = None  # searched in the text
    # effects
    routes: tuple[Name, ...] = ()
    reject: StatusName | None = None
    reason: str = ""
    throttle_ms: Millis | None = None
    defer_until: Name | None = None  # outside this window: defer to its next start
    set_source: str | None = None
    set_source_ton: Octet | None = None
    set_source_npi: Octet | None = None
    set_destination: str | None = None
    set_data_coding: Octet | None = None
    set_validity_s: PositiveInt | None = None
    strip_tlvs: tuple[TlvTag, ...] = ()
    add_tlvs: tuple[TlvConfig, ...] = ()
    final: bool = False

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        if self.reject is not None and self.throttle_ms is not None:
            found.append(Problem(("throttle_ms",), "give reject or throttle_ms, not both"))
        if self.window is not None and self.outside_window is not None:
            found.append(Problem(("outside_window",), "give window or outside_window, not both"))
        return found


@dataclass(frozen=True, slots=True, kw_only=True)
class ListsConfig:
    """`[lists]`: checked before any rule. Sources are exact addresses; destinations are
    prefixes of the E.164 digits. A non-empty allow list lets only what it names through."""

    block_sources: tuple[str, ...] = ()
    allow_sources: tuple[str, ...] = ()
    block_destinations: tuple[DigitPrefix, ...] = ()
    allow_destinations: tuple[DigitPrefix, ...] = ()
    status: StatusName = "ESME_RX_R_APPN"


@dataclass(frozen=True, slots=True, kw_only=True)
class OptOutConfig:
    """`[opt_out]`: a handset's MO `stop_words` to one of `short_codes` opts it out of MT from
    that short code (from every sender with `scope = "all"`); `start_words` opts it back in."""

    short_codes: tuple[str, ...] = ()
    stop_words: tuple[str, ...] = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
    start_words: tuple[str, ...] = ("START", "UNSTOP", "YES")
    scope: Literal["short_code", "all"] = "short_code"
    status: StatusName = "ESME_RX_R_APPN"


@dataclass(frozen=True, slots=True, kw_only=True)
class SenderIdConfig:
    """`[[sender_id]]`: what sources a destination country (a destination prefix, the longest
    wins) accepts. An alphanumeric source must be in `registered` when that is not empty. A
    refused source is replaced by `replace_with` when given, else the message is rejected."""

    prefix: DigitPrefix
    allow_kinds: tuple[SourceKindName, ...] = ("alphanumeric", "short_code", "long_number")
    registered: tuple[str, ...] = ()
    replace_with: str | None = None
    replace_ton: Octet = 1
    replace_npi: Octet = 1
    status: StatusName = "ESME_RINVSRCADR"


@dataclass(frozen=True, slots=True, kw_only=True)
class VelocityConfig:
    """`[[velocity]]`: at most `limit` messages from one account to one prefix range (the
    first `prefix_length` E.164 digits) in any `window_s` seconds; more are throttled (or
    rejected). `accounts`: only these (empty: every account)."""

    name: Name
    prefix_length: Annotated[int, Bounds("an integer from 1 to 15", minimum=1, maximum=15)]
    limit: PositiveInt
    window_s: Annotated[float, Bounds("a positive number of seconds", above=0.0)] = 60.0
    accounts: tuple[str, ...] = ()
    action: Literal["throttle", "reject"] = "throttle"
    status: StatusName = "ESME_RX_T_APPN"
    max_keys: PositiveInt = 100_000  # (account, range) pairs remembered; the oldest go first


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteSettingsConfig:
    """`[[route]]`: what least-cost routing knows of a route beyond its prices."""

    name: Name
    weight: NonNegativeInt = 1  # the last tie-break: higher first
    max_per_second: PerSecond = 0.0  # 0: no cap
    priority_share: Share = 0.2  # of the cap's burst kept for priority_flag >= 1


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkRangeConfig:
    """`[[network]]`: the operator holding a number range (a ported number's recipient wins)."""

    prefix: DigitPrefix
    mcc_mnc: MccMnc


@dataclass(frozen=True, slots=True, kw_only=True)
class LcrConfig:
    """`[lcr]`: route quality and failover."""

    quality_window_s: Annotated[int, Bounds("an integer from 60 to 86400", minimum=60)] = 600
    success_step: Share = 0.05  # success rates this close count as equal
    latency_step_ms: PositiveInt = 250  # latencies this close count as equal
    min_reports: PositiveInt = 5  # fewer reports: quality unknown, taken as perfect
    failures: PositiveInt = 3  # this many temporary failures in a row blacklist a route
    blacklist_s: Annotated[float, Bounds("a positive number of seconds", above=0.0)] = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyFile:
    """The whole policy file."""

    zone: Zone = "UTC"
    default_routes: tuple[Name, ...] = ()  # when no rule routes (else the node's [routing])
    prices_file: ExistingFile | None = None  # CSV: route, mcc_mnc, price
    short_code_max_digits: Annotated[int, Bounds("1 to 15 digits", minimum=1, maximum=15)] = 8
    lcr: LcrConfig = field(default_factory=LcrConfig)
    lists: ListsConfig = field(default_factory=ListsConfig)
    opt_out: OptOutConfig = field(default_factory=OptOutConfig)
    window: tuple[WindowConfig, ...] = ()
    rule: tuple[RuleConfig, ...] = ()
    sender_id: tuple[SenderIdConfig, ...] = ()
    velocity: tuple[VelocityConfig, ...] = ()
    route: tuple[RouteSettingsConfig, ...] = ()
    network: tuple[NetworkRangeConfig, ...] = ()

    def problems(self) -> list[Problem]:
        found = [
            *duplicates(self.window, "name", ("window",)),
            *duplicates(self.rule, "name", ("rule",)),
            *duplicates(self.velocity, "name", ("velocity",)),
            *duplicates(self.route, "name", ("route",)),
            *duplicates(self.sender_id, "prefix", ("sender_id",)),
            *duplicates(self.network, "prefix", ("network",)),
        ]
        windows = {window.name for window in self.window}
        for index, rule in enumerate(self.rule):
            for key in ("window", "outside_window", "defer_until"):
                name = getattr(rule, key)
                if name is not None and name not in windows:
                    found.append(Problem(("rule", index, key), f'no [[window]] named "{name}"'))
        return found

    def route_problems(self, known: Collection[str]) -> list[Problem]:
        """Route names the node does not have (`known`: "loopback", "network", connectors)."""
        expected = ", ".join(f'"{name}"' for name in sorted(known))
        found: list[Problem] = []

        def check(key: tuple[str | int, ...], name: str) -> None:
            if name not in known:
                found.append(Problem(key, f'"{name}" is no route; expected one of: {expected}'))

        for index, name in enumerate(self.default_routes):
            check(("default_routes", index), name)
        for index, rule in enumerate(self.rule):
            for position, name in enumerate(rule.routes):
                check(("rule", index, "routes", position), name)
        for index, route in enumerate(self.route):
            check(("route", index, "name"), route.name)
        return found
