"""The subscriber CSV format: `[network] subscribers_csv`, read by `SubscriberTable.load_csv`.

UTF-8, a header row naming the columns, in any order; only `msisdn` is required; an empty cell
or a missing column takes the value of the number's prefix default:

| column | example | meaning |
|---|---|---|
| msisdn | +447700900123 | E.164 ('+', '00' or bare digits), or national with a 0 (numbering.py) |
| imsi | 234150000000123 | 6 to 15 digits; empty: made from the subscription network + MSISDN |
| home_network | 23415 | MCC-MNC (5 or 6 digits: a 2- or 3-digit MNC) owning the number range |
| msc_address | 447700000001 | serving MSC/VLR E.164 global title |
| state | attached | a SubscriberState value |
| ported_to | 23410 | MCC-MNC of the recipient network when the number is ported out |
| serving_network | 20801 | MCC-MNC of a visited network when roaming |
| latency | normal:40:10 | fixed:<ms>, uniform:<low ms>:<high ms> or normal:<mean ms>:<stddev ms> |
| failure_probability | 0.01 | 0..1, chance of a random systemFailure in realistic mode |
| absent_diagnostic | 1 | absentSubscriberDiagnosticSM reported when absent (1: IMSI detached) |

What this is for: `read_csv` checks every cell and writes each row already packed the way the
table stores it (subscribers.py), so that a million rows load without a `Subscriber` object
each: the table hands in its interning and writing functions, and nothing is parsed twice.

What it is not: the table itself (subscribers.py) or the record's fields (subscriber.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Container, Iterator
from pathlib import Path
from typing import Final

from opensmsc.network.subscriber import (
    STATE_CODES,
    Latency,
    PrefixDefault,
    SubscriberState,
    check_digits,
    check_probability,
    state_named,
)
from opensmsc.routing import NumberDataError, Numbering, parse_mcc_mnc

__all__ = ["CSV_COLUMNS", "WriteRow", "read_csv"]

CSV_COLUMNS: Final = (
    "msisdn",
    "imsi",
    "home_network",
    "msc_address",
    "state",
    "ported_to",
    "serving_network",
    "latency",
    "failure_probability",
    "absent_diagnostic",
)

WriteRow = Callable[[int, int, int, int, int, int, int, int, int], None]
"""Stores one packed row: msisdn, imsi (int("1" + digits), 0: derived), msc (likewise), the home,
ported-to and serving network ids, the state's code (STATE_CODES), the absent diagnostic, the
latency/failure profile id."""


def read_csv(
    path: Path,
    *,
    numbering: Numbering,
    default_for: Callable[[str], PrefixDefault],
    known: Container[int],
    network_id: Callable[[str | None], int],
    profile_id: Callable[[Latency, float], int],
    write: WriteRow,
) -> int:
    """Read the file at `path` and `write` each row, packed; returns the number of rows.
    `default_for(digits)` fills empty cells; `network_id` and `profile_id` intern values; a
    number in `known` (what `write` stored) is a repeat. Raises NumberDataError naming the
    file, the line and the column."""
    where = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise NumberDataError(f"cannot read: {exc.strerror}", path=where) from exc
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise NumberDataError("empty file; expected a header row", path=where) from None
        except csv.Error as exc:
            raise NumberDataError(str(exc), path=where, line=1) from exc
        columns = [name.strip().lower() for name in header]
        for name in columns:
            if name not in CSV_COLUMNS:
                raise NumberDataError(
                    f"unknown column {name!r}; expected some of: {', '.join(CSV_COLUMNS)}",
                    path=where,
                    line=1,
                )
        if "msisdn" not in columns:
            raise NumberDataError("no msisdn column", path=where, line=1)
        if len(set(columns)) != len(columns):
            raise NumberDataError("a column appears twice", path=where, line=1)
        position = {name: columns.index(name) for name in columns}
        return _rows(
            reader,
            position,
            where,
            lambda: reader.line_num,
            numbering=numbering,
            default_for=default_for,
            known=known,
            network_id=network_id,
            profile_id=profile_id,
            write=write,
        )


def _rows(
    reader: Iterator[list[str]],
    position: dict[str, int],
    where: str,
    line_num: Callable[[], int],
    *,
    numbering: Numbering,
    default_for: Callable[[str], PrefixDefault],
    known: Container[int],
    network_id: Callable[[str | None], int],
    profile_id: Callable[[Latency, float], int],
    write: WriteRow,
) -> int:
    """The loader's hot loop: one pass, caches for the repeated values (networks, profiles)."""
    normalise = numbering.normalise
    width = len(position)
    at = position.get
    p_msisdn = position["msisdn"]
    p_imsi, p_home, p_msc = at("imsi"), at("home_network"), at("msc_address")
    p_state, p_ported, p_serving = at("state"), at("ported_to"), at("serving_network")
    p_latency, p_failure = at("latency"), at("failure_probability")
    p_diagnostic = at("absent_diagnostic")

    def cell(row: list[str], position: int | None) -> str:
        return row[position].strip() if position is not None else ""

    # Caches of parsed cell text: a million rows share a handful of distinct values.
    networks: dict[str, int] = {}
    profiles: dict[tuple[str, str], int] = {}
    states = {state.value: state for state in SubscriberState}

    def network(text: str, fallback: str | None) -> int:
        if not text:
            return network_id(fallback)
        found = networks.get(text)
        if found is None:
            found = networks[text] = network_id(parse_mcc_mnc(text))
        return found

    codes = STATE_CODES
    count = 0
    column = ""
    line = 1
    try:
        for row in reader:
            line = line_num()
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            if len(row) != width:
                column = ""
                raise ValueError(f"{len(row)} fields, expected {width}")
            column = "msisdn"
            key = normalise(row[p_msisdn])
            if key in known:
                raise ValueError(f"+{key} appears twice in the file")
            # The prefix default fills empty cells (a few dict lookups, ~1 µs).
            default = default_for(str(key))
            column = "imsi"
            text = cell(row, p_imsi)
            imsi = int("1" + check_digits(text, "an IMSI", 6)) if text else 0
            column = "home_network"
            text = cell(row, p_home) or default.home_network
            home = networks.get(text)
            if home is None:
                home = networks[text] = network_id(parse_mcc_mnc(text))
            column = "msc_address"
            text = cell(row, p_msc) or default.msc_address
            msc = int("1" + check_digits(text, "an MSC address", 1)) if text else 0
            column = "state"
            text = cell(row, p_state)
            state = (states.get(text) or state_named(text)) if text else default.state
            column = "ported_to"
            ported = network(cell(row, p_ported), default.ported_to)
            column = "serving_network"
            serving = network(cell(row, p_serving), default.serving_network)
            column = "latency"
            latency_text, failure_text = cell(row, p_latency), cell(row, p_failure)
            profile = profiles.get((latency_text, failure_text))
            if profile is None or not (latency_text and failure_text):
                latency = Latency.parse(latency_text) if latency_text else default.latency
                column = "failure_probability"
                failure = (
                    check_probability(float(failure_text))
                    if failure_text
                    else default.failure_probability
                )
                profile = profile_id(latency, failure)
                if latency_text and failure_text:
                    profiles[(latency_text, failure_text)] = profile
            column = "absent_diagnostic"
            text = cell(row, p_diagnostic)
            diagnostic = int(text) if text else default.absent_diagnostic
            if not 0 <= diagnostic <= 255:
                raise ValueError(f"expected 0 to 255, got {diagnostic}")
            write(key, imsi, msc, home, ported, serving, codes[state], diagnostic, profile)
            count += 1
    except csv.Error as exc:
        raise NumberDataError(str(exc), path=where, line=line) from exc
    except ValueError as exc:  # InvalidNumber is a ValueError too
        raise NumberDataError(str(exc), path=where, line=line, key=column) from exc
    return count
