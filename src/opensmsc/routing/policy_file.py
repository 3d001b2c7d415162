"""Loading the policy (issue 11): the policy file (`[routing] policy_file`) and its price list
→ a compiled `RuleSet`; the only module of routing that reads files.

The file is read and checked by config's loader (`read_policy`: every error as `file:line:
key: ...`); this module compiles what it holds (regexes, windows in the zone, prefix maps) and
reads the price list, a CSV with the columns `route`, `mcc_mnc` (or `*`: any network without
its own row) and `price` (per message part), whose errors name the file, line and column.

`PolicyFileError` carries every error found, for `RulePolicy.reload` to report.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection
from pathlib import Path
from zoneinfo import ZoneInfo

from opensmsc.config import PolicyFile, RuleConfig, read_policy
from opensmsc.errors import ConfigError
from opensmsc.routing import rules as r
from opensmsc.routing.decision import Rewrite
from opensmsc.smpp import CommandStatus
from opensmsc.store import Address

__all__ = ["PolicyFileError", "compile_policy", "load_rules", "rules_loader"]

_DAY_NUMBERS = {name: number for number, name in enumerate(r.DAY_NAMES)}


class PolicyFileError(ConfigError):
    """The policy could not be loaded: the first error, with all of them in `errors`."""

    def __init__(self, errors: list[ConfigError]) -> None:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(first.message + more, path=first.path, line=first.line, key=first.key)
        self.errors = errors


def load_rules(path: str | Path, *, routes: Collection[str] | None = None) -> r.RuleSet:
    """The policy in the file at `path`. `routes`: the route names the node has, to refuse
    others. Raises PolicyFileError."""
    policy, errors = read_policy(path, routes=routes)
    if policy is None:
        raise PolicyFileError(errors)
    return compile_policy(policy, source=str(path))


def rules_loader(
    path: str | Path, *, routes: Collection[str] | None = None
) -> Callable[[], r.RuleSet]:
    """A loader for `RulePolicy`: each call reads the file again (reload)."""
    return lambda: load_rules(path, routes=routes)


def compile_policy(policy: PolicyFile, *, source: str = "<policy>") -> r.RuleSet:
    """The rule set of a checked policy file. Raises PolicyFileError for the price list."""
    zone = ZoneInfo(policy.zone)
    windows = {
        w.name: r.Window(
            name=w.name,
            zone=zone,
            days=frozenset(_DAY_NUMBERS[day] for day in w.days),
            start_min=_minutes(w.start),
            end_min=_minutes(w.end),
        )
        for w in policy.window
    }
    lists = policy.lists
    opt_out = policy.opt_out
    return r.RuleSet(
        source=source,
        zone=zone,
        rules=tuple(_rule(index, rule, windows) for index, rule in enumerate(policy.rule)),
        default_routes=policy.default_routes,
        short_code_max_digits=policy.short_code_max_digits,
        lists=r.Lists(
            block_sources=frozenset(s.casefold() for s in lists.block_sources),
            allow_sources=frozenset(s.casefold() for s in lists.allow_sources),
            block_destinations=r.PrefixMap(dict.fromkeys(lists.block_destinations, True)),
            allow_destinations=(
                r.PrefixMap(dict.fromkeys(lists.allow_destinations, True))
                if lists.allow_destinations
                else None
            ),
            status=_status(lists.status),
        ),
        opt_out=r.OptOutSettings(
            short_codes=frozenset(opt_out.short_codes),
            stop_words=frozenset(word.upper() for word in opt_out.stop_words),
            start_words=frozenset(word.upper() for word in opt_out.start_words),
            all_senders=opt_out.scope == "all",
            status=_status(opt_out.status),
        ),
        sender_ids=r.PrefixMap(
            {
                s.prefix: r.SenderIdRule(
                    prefix=s.prefix,
                    allow_kinds=frozenset(r.SourceKind(kind) for kind in s.allow_kinds),
                    registered=frozenset(name.casefold() for name in s.registered),
                    replace_with=(
                        None
                        if s.replace_with is None
                        else Address(s.replace_ton, s.replace_npi, s.replace_with)
                    ),
                    status=_status(s.status),
                )
                for s in policy.sender_id
            }
        ),
        velocity=tuple(
            r.VelocitySpec(
                name=v.name,
                prefix_length=v.prefix_length,
                limit=v.limit,
                window_s=v.window_s,
                accounts=frozenset(v.accounts),
                reject=v.action == "reject",
                status=_status(v.status),
                max_keys=v.max_keys,
            )
            for v in policy.velocity
        ),
        routes={
            s.name: r.RouteSettings(
                name=s.name,
                weight=s.weight,
                max_per_second=s.max_per_second,
                priority_share=s.priority_share,
            )
            for s in policy.route
        },
        prices={} if policy.prices_file is None else read_prices(policy.prices_file),
        networks=r.PrefixMap({n.prefix: n.mcc_mnc for n in policy.network}),
        lcr=r.LcrSettings(
            quality_window_s=policy.lcr.quality_window_s,
            success_step=policy.lcr.success_step,
            latency_step_ms=policy.lcr.latency_step_ms,
            min_reports=policy.lcr.min_reports,
            failures=policy.lcr.failures,
            blacklist_s=policy.lcr.blacklist_s,
        ),
    )


def _rule(index: int, rule: RuleConfig, windows: dict[str, r.Window]) -> r.Rule:
    conditions: list[r.Condition] = []
    if rule.mcc_mnc:
        conditions.append(r.one_of("mcc_mnc", frozenset(rule.mcc_mnc), "mcc_mnc"))
    if rule.account:
        conditions.append(r.one_of("account", frozenset(rule.account), "account"))
    if rule.source_kind:
        conditions.append(r.one_of("source_kind", frozenset(rule.source_kind), "kind"))
    if rule.source is not None:
        conditions.append(r.source_pattern(rule.source))
    if rule.service_type:
        conditions.append(r.one_of("service_type", frozenset(rule.service_type), "service_type"))
    if rule.window is not None:
        conditions.append(r.in_window(windows[rule.window], inside=True))
    if rule.outside_window is not None:
        conditions.append(r.in_window(windows[rule.outside_window], inside=False))
    if rule.keywords:
        conditions.append(r.keywords(rule.keywords))
    if rule.url is not None:
        conditions.append(r.url(rule.url))
    if rule.regex is not None:
        conditions.append(r.content_regex(rule.regex))
    rewrite = Rewrite(
        source_addr=rule.set_source,
        source_addr_ton=rule.set_source_ton,
        source_addr_npi=rule.set_source_npi,
        destination_addr=rule.set_destination,
        data_coding=rule.set_data_coding,
        validity_s=rule.set_validity_s,
        strip_tlvs=rule.strip_tlvs,
        add_tlvs=tuple((tlv.tag, bytes.fromhex(tlv.value)) for tlv in rule.add_tlvs),
    )
    return r.Rule(
        index=index,
        name=rule.name,
        prefixes=rule.prefix,
        conditions=tuple(conditions),
        routes=rule.routes,
        reject=None if rule.reject is None else (_status(rule.reject), rule.reason),
        throttle_ms=rule.throttle_ms,
        defer_until=None if rule.defer_until is None else windows[rule.defer_until],
        rewrite=None if rewrite.is_empty else rewrite,
        final=rule.final,
    )


def _status(name: str) -> int:
    return int(CommandStatus[name])


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def read_prices(path: Path) -> dict[str, dict[str, float]]:
    """route → mcc_mnc (or "*") → price, from the CSV at `path`. Raises PolicyFileError naming
    the file, line and column of each bad row (all of them)."""
    where = str(path)
    prices: dict[str, dict[str, float]] = {}
    errors: list[ConfigError] = []
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise PolicyFileError([ConfigError(f"cannot read: {exc.strerror}", path=where)]) from exc
    with handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip().lower() for name in next(reader, [])]
            if sorted(header) != ["mcc_mnc", "price", "route"]:
                raise PolicyFileError(
                    [ConfigError("expected the header route,mcc_mnc,price", path=where, line=1)]
                )
            at = {name: header.index(name) for name in header}
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                line = reader.line_num
                if len(row) != 3:
                    errors.append(
                        ConfigError(f"{len(row)} fields, expected 3", path=where, line=line)
                    )
                    continue
                route, network, text = (
                    row[at[name]].strip() for name in ("route", "mcc_mnc", "price")
                )
                problem = _price_problem(route, network, text, prices)
                if problem is not None:
                    errors.append(ConfigError(problem[1], path=where, line=line, key=problem[0]))
                    continue
                prices.setdefault(route, {})[network] = float(text)
        except csv.Error as exc:
            errors.append(ConfigError(str(exc), path=where, line=reader.line_num))
    if errors:
        raise PolicyFileError(errors)
    return prices


def _price_problem(
    route: str, network: str, text: str, prices: dict[str, dict[str, float]]
) -> tuple[str, str] | None:
    """(column, message) of what is wrong with a row, or None."""
    if not route:
        return "route", "empty"
    if network != "*" and not (network.isdigit() and len(network) in (5, 6)):
        return "mcc_mnc", f'expected an MCC-MNC of 5 or 6 digits or "*", got "{network}"'
    if network in prices.get(route, {}):
        return "mcc_mnc", f"{route} already has a price to {network}"
    try:
        price = float(text)
    except ValueError:
        return "price", f'expected a number, got "{text}"'
    if not price >= 0 or price == float("inf"):
        return "price", f"expected a price of 0 or more, got {text}"
    return None
