"""SMPP time strings (smpp/times.py): vectors from the spec and public sources, then properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensmsc.smpp.constants import CommandStatus
from opensmsc.smpp.errors import SmppError
from opensmsc.smpp.times import (
    RelativeTime,
    SmppTimeError,
    format_absolute,
    format_receipt_date,
    format_relative,
    parse_receipt_date,
    parse_relative,
    parse_schedule,
    parse_time,
    parse_validity,
)

NOW = datetime(2025, 1, 31, 10, 0, 0, tzinfo=UTC)


# --- vectors ------------------------------------------------------------------------------------

ABSOLUTE_VECTORS = [
    # (source, value, UTC instant)
    (
        "shared/specs/DIGEST.md §1.6: 2025-03-01 14:30:00.0 local, UTC+1h",
        "250301143000004+",
        datetime(2025, 3, 1, 13, 30, tzinfo=UTC),
    ),
    (
        # The page's prose says 10:11:12.4, but its string's tenths digit is 3: we read the string.
        "developer.nvia.com, SMPP date time formats: 10 April 2012 10:11:12",
        "120410101112300+",
        datetime(2012, 4, 10, 10, 11, 12, 300_000, tzinfo=UTC),
    ),
    (
        "SMPP 3.4 §7.1.1: '-' = local time behind UTC; 48 quarters is the largest offset",
        "991231233059948-",
        datetime(2100, 1, 1, 11, 30, 59, 900_000, tzinfo=UTC),
    ),
    (
        "SMPP 3.4 §7.1.1: 48 quarters ahead, crossing back over midnight and the year",
        "250101050000048+",
        datetime(2024, 12, 31, 17, 0, tzinfo=UTC),
    ),
    (
        "SMPP 3.4 §7.1.1: quarter-hour offset (India, UTC+5:30 = 22 quarters)",
        "250615120000022+",
        datetime(2025, 6, 15, 6, 30, tzinfo=UTC),
    ),
    (
        "SMPP 3.4 §7.1.1: a leap day is a date",
        "240229000000000+",
        datetime(2024, 2, 29, tzinfo=UTC),
    ),
    ("SMPP 3.4 §7.1.1: '00-' is UTC too", "250301000000000-", datetime(2025, 3, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize(("source", "value", "expected"), ABSOLUTE_VECTORS)
def test_absolute_vectors_parse_to_utc(source: str, value: str, expected: datetime) -> None:
    parsed = parse_schedule(value, now=NOW)
    assert parsed == expected, source
    assert parsed is not None and parsed.tzinfo is UTC


RELATIVE_VECTORS = [
    # (source, value, counts)
    (
        "SMPP 3.4 §7.1.1.2 example: 2 years, 6 months, 10 days, 23:34:29 from now",
        "020610233429000R",
        RelativeTime(years=2, months=6, days=10, hours=23, minutes=34, seconds=29),
    ),
    ("DIGEST.md §1.6: 1 day 12 hours from now", "000001120000000R", RelativeTime(days=1, hours=12)),
    (
        "support.nowsms.com 12282: ValidityPeriod=000007000000000R is 7 days",
        "000007000000000R",
        RelativeTime(days=7),
    ),
]


@pytest.mark.parametrize(("source", "value", "counts"), RELATIVE_VECTORS)
def test_relative_vectors(source: str, value: str, counts: RelativeTime) -> None:
    assert parse_relative(value) == counts, source
    assert format_relative(counts) == value, source


def test_spec_relative_example_uses_calendar_years_and_months() -> None:
    # 2025-01-31 10:00 + 2 years 6 months = 2027-07-31, + 10 days 23:34:29.
    parsed = parse_validity("020610233429000R", now=NOW)
    assert parsed == datetime(2027, 8, 11, 9, 34, 29, tzinfo=UTC)


def test_one_day_twelve_hours_from_now() -> None:
    assert parse_schedule("000001120000000R", now=NOW) == NOW + timedelta(days=1, hours=12)


def test_relative_month_clamps_to_end_of_shorter_month() -> None:
    # 31 January + 1 month: February has no 31st; clamp to the 28th (2025 is not a leap year).
    assert parse_schedule("000100000000000R", now=NOW) == datetime(2025, 2, 28, 10, tzinfo=UTC)
    leap = datetime(2024, 1, 31, tzinfo=UTC)
    assert parse_schedule("000100000000000R", now=leap) == datetime(2024, 2, 29, tzinfo=UTC)


def test_relative_year_is_a_calendar_year_not_365_days() -> None:
    start = datetime(2024, 2, 29, 12, tzinfo=UTC)
    assert parse_schedule("010000000000000R", now=start) == datetime(2025, 2, 28, 12, tzinfo=UTC)
    start = datetime(2023, 3, 1, tzinfo=UTC)
    assert parse_schedule("010000000000000R", now=start) == datetime(2024, 3, 1, tzinfo=UTC)


def test_relative_counts_from_now_in_utc_whatever_the_zone_of_now() -> None:
    now_local = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert parse_schedule("000000010000000R", now=now_local) == NOW + timedelta(hours=1)


def test_relative_fields_beyond_calendar_ranges_are_read_as_counts() -> None:
    # The spec gives relative counts no range; 48 hours is a common way to say two days.
    assert parse_validity("000000480000000R", now=NOW) == NOW + timedelta(hours=48)
    assert parse_validity("001400009999000R", now=NOW) == datetime(
        2026, 3, 31, 10, tzinfo=UTC
    ) + timedelta(minutes=99, seconds=99)


def test_relative_ignores_tenths_and_offset_as_the_spec_says() -> None:
    # SMPP 3.4 §7.1.1.2: t and nn "are ignored and should be set to 0 and 00".
    assert parse_schedule("000001000000948R", now=NOW) == NOW + timedelta(days=1)


def test_empty_means_not_given() -> None:
    assert parse_schedule("", now=NOW) is None
    assert parse_validity("", now=NOW) is None
    assert parse_time("", now=NOW, field="final_date") is None


# --- invalid values -----------------------------------------------------------------------------

INVALID = [
    ("15 characters", "25030114300000+"),
    ("17 characters", "2503011430000004+"),
    ("12-digit receipt form is not a schedule", "250301143000"),
    ("letters in the date", "25O301143000004+"),
    ("space for a digit", "2503011430 0004+"),
    ("non-ASCII digit", "25030114300000٤+"),
    ("month 13", "251301143000004+"),
    ("month 00", "250001143000004+"),
    ("day 00", "250300143000004+"),
    ("day 32", "250132143000004+"),
    ("30 February", "250230143000004+"),
    ("29 February of a common year", "250229143000004+"),
    ("hour 24", "250301243000004+"),
    ("minute 60", "250301146000004+"),
    ("second 60", "250301143060004+"),
    ("offset 49 quarter hours", "250301143000049+"),
    ("offset 99", "250301143000099-"),
    ("bad sign", "250301143000004*"),
    ("lower-case r", "000001000000000r"),
    ("blank sign", "250301143000004 "),
    ("NUL inside", "250301143000004\x00"),
    ("relative with letters", "0000X1000000000R"),
    ("relative with a sign inside", "-00001000000000R"),
]


@pytest.mark.parametrize(("why", "value"), INVALID)
def test_invalid_schedule_raises_rinvsched(why: str, value: str) -> None:
    with pytest.raises(SmppTimeError) as info:
        parse_schedule(value, now=NOW)
    assert info.value.status == CommandStatus.ESME_RINVSCHED, why
    assert info.value.field == "schedule_delivery_time"
    assert info.value.value == value


@pytest.mark.parametrize(("why", "value"), INVALID)
def test_invalid_validity_raises_rinvexpiry(why: str, value: str) -> None:
    with pytest.raises(SmppTimeError) as info:
        parse_validity(value, now=NOW)
    assert info.value.status == CommandStatus.ESME_RINVEXPIRY, why
    assert info.value.field == "validity_period"


def test_time_error_is_an_smpp_error_and_reads_alone_in_a_log() -> None:
    with pytest.raises(SmppError) as info:
        parse_validity("251301143000004+", now=NOW)
    message = str(info.value)
    assert "validity_period" in message
    assert "251301143000004+" in message
    assert "ESME_RINVEXPIRY" in message


def test_relative_past_the_calendar_is_invalid_not_a_crash() -> None:
    with pytest.raises(SmppTimeError):
        parse_validity("990000000000000R", now=datetime(9950, 1, 1, tzinfo=UTC))


def test_naive_now_is_a_caller_bug() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_schedule("000001000000000R", now=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        parse_schedule("", now=datetime(2025, 1, 1))


# --- formatting ---------------------------------------------------------------------------------


def test_format_absolute_keeps_the_offset_of_the_datetime() -> None:
    cet = timezone(timedelta(hours=1))
    assert format_absolute(datetime(2025, 3, 1, 14, 30, tzinfo=cet)) == "250301143000004+"
    ist = timezone(timedelta(hours=5, minutes=30))
    assert format_absolute(datetime(2025, 6, 15, 12, tzinfo=ist)) == "250615120000022+"
    nst = timezone(-timedelta(hours=3, minutes=30))
    assert format_absolute(datetime(2025, 6, 15, 12, tzinfo=nst)) == "250615120000014-"


def test_format_absolute_utc_and_truncated_tenths() -> None:
    when = datetime(2012, 4, 10, 10, 11, 12, 499_999, tzinfo=UTC)
    assert format_absolute(when) == "120410101112400+"


@pytest.mark.parametrize(
    "when",
    [
        datetime(2025, 1, 1),  # naive
        datetime(2025, 1, 1, tzinfo=timezone(timedelta(minutes=10))),  # not a quarter hour
        datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=13))),  # beyond 48 quarters
        datetime(1999, 12, 31, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
    ],
)
def test_format_absolute_refuses_what_the_format_cannot_hold(when: datetime) -> None:
    with pytest.raises(ValueError):
        format_absolute(when)


def test_format_relative_from_timedelta() -> None:
    assert format_relative(timedelta(days=1, hours=12)) == "000001120000000R"
    assert format_relative(timedelta(hours=48)) == "000002000000000R"
    assert format_relative(timedelta(days=99, seconds=86_399)) == "000099235959000R"
    assert format_relative(timedelta(seconds=90, microseconds=999_999)) == "000000000130000R"
    assert format_relative(timedelta(0)) == "000000000000000R"


@pytest.mark.parametrize("delta", [timedelta(days=100), timedelta(seconds=-1)])
def test_format_relative_refuses_what_the_format_cannot_hold(delta: timedelta) -> None:
    with pytest.raises(ValueError):
        format_relative(delta)


def test_relative_time_counts_are_two_digits() -> None:
    with pytest.raises(ValueError):
        RelativeTime(days=100)


# --- receipt dates (SMPP 3.4 Appendix B) --------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        (
            "cloudhopper-smpp DeliveryReceiptTest.parseShortMessage",
            "1005232039",
            datetime(2010, 5, 23, 20, 39, tzinfo=UTC),
        ),
        (
            "cloudhopper-smpp DeliveryReceiptTest.parseReceiptWithTimestampIncludingSeconds",
            "110206193041",
            datetime(2011, 2, 6, 19, 30, 41, tzinfo=UTC),
        ),
        (
            "cloudhopper-smpp DeliveryReceiptTest.parseReceiptWithMissingSubAndDlvrdFields",
            "20110314181534",
            datetime(2011, 3, 14, 18, 15, 34, tzinfo=UTC),
        ),
        (
            "python-smpplib tests/test_command.py test_unrecognised_optional_parameters",
            "200319131913",
            datetime(2020, 3, 19, 13, 19, 13, tzinfo=UTC),
        ),
    ],
)
def test_receipt_dates(source: str, value: str, expected: datetime) -> None:
    assert parse_receipt_date(value) == expected, source


def test_receipt_date_in_the_peers_zone() -> None:
    moscow = timezone(timedelta(hours=3))
    assert parse_receipt_date("1810151907", tz=moscow) == datetime(2018, 10, 15, 16, 7, tzinfo=UTC)
    when = datetime(2018, 10, 15, 16, 7, 30, tzinfo=UTC)
    assert format_receipt_date(when, tz=moscow) == "1810151907"
    assert format_receipt_date(when, tz=moscow, seconds=True) == "181015190730"


@pytest.mark.parametrize(
    "value", ["0000000000", "100523203", "10052320391", "1013232039", "10052320 9", ""]
)
def test_bad_receipt_dates_raise_value_error(value: str) -> None:
    with pytest.raises(ValueError):
        parse_receipt_date(value)


def test_format_receipt_date_default_is_ten_digits() -> None:
    assert format_receipt_date(datetime(2010, 5, 23, 20, 39, 59, tzinfo=UTC)) == "1005232039"


# --- properties ---------------------------------------------------------------------------------

offsets = st.integers(min_value=-48, max_value=48).map(
    lambda q: timezone(q * timedelta(minutes=15))
)
# Local wall times whose UTC instant stays within 2000..2099 for any offset up to ±12 h.
local_times = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30))


@given(local=local_times, zone=offsets)
def test_absolute_round_trip_over_the_whole_offset_range(local: datetime, zone: timezone) -> None:
    when = local.replace(tzinfo=zone)
    text = format_absolute(when)
    assert len(text) == 16
    expected = when.replace(microsecond=when.microsecond // 100_000 * 100_000)
    parsed = parse_schedule(text, now=NOW)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC
    assert format_absolute(expected.astimezone(zone)) == text


@given(
    delta=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=99, seconds=86_399)),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
)
def test_relative_timedelta_round_trip(delta: timedelta, now: datetime) -> None:
    aware_now = now.replace(tzinfo=UTC)
    whole = timedelta(days=delta.days, seconds=delta.seconds)
    assert parse_validity(format_relative(delta), now=aware_now) == aware_now + whole


counts = st.integers(min_value=0, max_value=99)


@given(
    rel=st.builds(
        RelativeTime,
        years=counts,
        months=counts,
        days=counts,
        hours=counts,
        minutes=counts,
        seconds=counts,
    ),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
)
def test_relative_counts_round_trip_and_never_go_backwards(
    rel: RelativeTime, now: datetime
) -> None:
    text = format_relative(rel)
    assert parse_relative(text) == rel
    aware_now = now.replace(tzinfo=UTC)
    parsed = parse_schedule(text, now=aware_now)
    assert parsed is not None and parsed >= aware_now


@given(st.text(max_size=20))
def test_parse_raises_only_smpp_time_error(value: str) -> None:
    try:
        parsed = parse_schedule(value, now=NOW)
    except SmppTimeError as exc:
        assert exc.status == CommandStatus.ESME_RINVSCHED
    else:
        assert parsed is None or parsed.tzinfo is UTC


@given(st.from_regex(r"\A[0-9]{15}[-+R]\Z"))
def test_digit_strings_raise_only_smpp_time_error(value: str) -> None:
    try:
        parse_validity(value, now=NOW)
    except SmppTimeError as exc:
        assert exc.status == CommandStatus.ESME_RINVEXPIRY


@given(when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)))
def test_receipt_date_round_trip(when: datetime) -> None:
    aware = when.replace(tzinfo=UTC)
    assert parse_receipt_date(format_receipt_date(aware)) == aware.replace(second=0, microsecond=0)
    assert parse_receipt_date(format_receipt_date(aware, seconds=True)) == aware.replace(
        microsecond=0
    )
