"""SMPP time strings: schedule_delivery_time, validity_period, final_date, receipt dates.

What this module is for: turning the 16-character `YYMMDDhhmmsstnnp` form of SMPP 3.4 §7.1.1
(SMPP 5.0 §7.1.1) into aware UTC `datetime`s and back, and the shorter `YYMMDDhhmm[ss]` dates of
the delivery receipt text (SMPP 3.4 Appendix B). What it is not: it never reads the clock (`now`
is always passed in) and it does not decide policy, such as whether a validity period already in
the past is acceptable; the engine decides that with the datetime returned here.

Choices the specification leaves open, decided here:

- Century: `YY` has none. We read `YY` as 20YY. Every schedule or validity an SMSC sees in
  service lies after 2000, and 2099 is far enough away. `format_absolute` refuses other years.
- Relative times (`p = R`, §7.1.1.2) count "years, months, days, hours, minutes and seconds from
  the current SMSC time". We apply them with calendar arithmetic, in UTC, from `now`: first years
  and months (a day past the end of the target month is clamped to its last day, so 31 January
  plus one month is 28/29 February, as java.time and dateutil do), then days, hours, minutes and
  seconds as exact durations. A year is therefore 365 or 366 days, a month 28 to 31, never a
  fixed 30 (unlike SMPPEX's naive 30-day month).
- The spec says `t` and `nn` "are ignored and should be set to 0 and 00" in a relative time: we
  ignore them, as written, so a peer that sends `000001000000100R` still gets its one day. Each
  relative field may hold any two digits (`000000480000000R` = 48 hours, seen in the wild): the
  spec gives these numbers no range, only the absolute form has calendar ranges.
- Absolute times are strict: exactly 16 characters, digits where digits belong, a real calendar
  date, `nn` 00..48, `p` one of `+ - R`. Anything else is an invalid value (ESME_RINVSCHED /
  ESME_RINVEXPIRY, SMPP 3.4 §5.2.15-16 and Table 5-2).
- Receipt dates (Appendix B) are the SMSC's local time without a zone; the caller says which zone
  (`tz`, UTC by default, which is what opensmsc itself writes). We read 10 digits `YYMMDDhhmm`
  (the spec), 12 digits `YYMMDDhhmmss` (the common practice, python-smpplib and cloudhopper test
  data) and 14 digits `YYYYMMDDhhmmss` (seen in cloudhopper-smpp's DeliveryReceiptTest).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from opensmsc.smpp.constants import CommandStatus
from opensmsc.smpp.errors import SmppError

__all__ = [
    "RelativeTime",
    "SmppTimeError",
    "format_absolute",
    "format_receipt_date",
    "format_relative",
    "parse_receipt_date",
    "parse_relative",
    "parse_schedule",
    "parse_time",
    "parse_validity",
]

TIME_LENGTH = 16  # SMPP 3.4 §7.1.1: "YYMMDDhhmmsstnnp", a C-Octet String of 17 with the NUL
MAX_OFFSET_QUARTERS = 48  # SMPP 3.4 §7.1.1: nn is 00..48 quarter hours
_QUARTER = timedelta(minutes=15)


class SmppTimeError(SmppError):
    """An SMPP time string that cannot be read.

    `status` is the command_status to answer with (ESME_RINVSCHED for schedule_delivery_time and
    the other time fields, ESME_RINVEXPIRY for validity_period); `field` names the PDU field and
    `value` holds the string as received.
    """

    def __init__(self, message: str, *, status: int, field: str, value: str) -> None:
        self.status = status
        self.field = field
        self.value = value
        super().__init__(f"{field} {value!r}: {message} ({_status_name(status)})")


def _status_name(status: int) -> str:
    parsed = CommandStatus.parse(status)
    return parsed.name if isinstance(parsed, CommandStatus) else f"0x{status:08X}"


@dataclass(frozen=True, slots=True)
class RelativeTime:
    """The six counts of a relative SMPP time (SMPP 3.4 §7.1.1.2), each 0..99."""

    years: int = 0
    months: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    def __post_init__(self) -> None:
        for name in ("years", "months", "days", "hours", "minutes", "seconds"):
            count = getattr(self, name)
            if not 0 <= count <= 99:
                raise ValueError(f"RelativeTime.{name} must be 0..99, got {count}")

    def after(self, now: datetime) -> datetime:
        """The instant this long after `now`, in UTC, by the calendar rules in the module doc."""
        start = _as_utc(now, "now")
        month_index = start.month - 1 + 12 * self.years + self.months
        year = start.year + month_index // 12
        month = month_index % 12 + 1
        day = min(start.day, calendar.monthrange(year, month)[1])
        shifted = start.replace(year=year, month=month, day=day)
        return shifted + timedelta(
            days=self.days, hours=self.hours, minutes=self.minutes, seconds=self.seconds
        )

    @classmethod
    def from_timedelta(cls, delta: timedelta) -> RelativeTime:
        """Days, hours, minutes and seconds of `delta` (under 100 days; fractions truncated).

        Years and months are never used: they have no fixed length, so only days keep the
        round trip `parse(format(delta)) == now + delta` exact.
        """
        if delta < timedelta(0):
            raise ValueError(f"a relative SMPP time cannot be negative, got {delta}")
        if delta.days > 99:
            raise ValueError(f"a relative SMPP time holds at most 99 days, got {delta}")
        hours, rest = divmod(delta.seconds, 3600)
        minutes, seconds = divmod(rest, 60)
        return cls(days=delta.days, hours=hours, minutes=minutes, seconds=seconds)


def parse_time(
    value: str, *, now: datetime, field: str = "schedule_delivery_time"
) -> datetime | None:
    """Read an absolute or relative SMPP time (SMPP 3.4 §7.1.1) as an aware UTC datetime.

    "" (the C-string holding only its NUL) means "not given" and returns None: deliver at once,
    or use the SMSC's default validity. `field` names the PDU field, for the error: a bad
    validity_period raises SmppTimeError with ESME_RINVEXPIRY, any other field with
    ESME_RINVSCHED. `now` must be aware; relative times count from it.
    """
    status = (
        CommandStatus.ESME_RINVEXPIRY
        if field == "validity_period"
        else CommandStatus.ESME_RINVSCHED
    )
    start = _as_utc(now, "now")  # checked first: a naive `now` is our bug, not the peer's
    if value == "":
        return None
    if len(value) != TIME_LENGTH:
        raise SmppTimeError(
            f"expected {TIME_LENGTH} characters, got {len(value)}",
            status=status,
            field=field,
            value=value,
        )
    sign = value[15]
    if sign == "R":
        try:
            return parse_relative(value).after(start)
        except (ValueError, OverflowError) as exc:
            # Bad digits, or (with a `now` near year 9999) a date past the calendar's end.
            raise SmppTimeError(str(exc), status=status, field=field, value=value) from None
    if sign not in "+-":
        raise SmppTimeError(
            f"the last character must be '+', '-' or 'R', got {sign!r}",
            status=status,
            field=field,
            value=value,
        )
    try:
        return _parse_absolute(value)
    except ValueError as exc:
        raise SmppTimeError(str(exc), status=status, field=field, value=value) from None


def parse_schedule(value: str, *, now: datetime) -> datetime | None:
    """schedule_delivery_time (SMPP 3.4 §5.2.15): None for "deliver now".

    Raises SmppTimeError with status ESME_RINVSCHED for any invalid value.
    """
    return parse_time(value, now=now, field="schedule_delivery_time")


def parse_validity(value: str, *, now: datetime) -> datetime | None:
    """validity_period (SMPP 3.4 §5.2.16): None for "the SMSC default".

    Raises SmppTimeError with status ESME_RINVEXPIRY for any invalid value.
    """
    return parse_time(value, now=now, field="validity_period")


def parse_relative(value: str) -> RelativeTime:
    """The counts of a 16-character relative time `YYMMDDhhmmss...R`.

    Raises ValueError if it is not one. `t` and `nn` are ignored (SMPP 3.4 §7.1.1.2), but must
    still be digits: a value that is not digits there is garbage, not a lenient peer.
    """
    if len(value) != TIME_LENGTH or value[15] != "R":
        raise ValueError(f"not a relative SMPP time: {value!r}")
    if not _is_digits(value[:15]):
        raise ValueError("characters 1-15 must be digits")
    years, months, days, hours, minutes, seconds = (int(value[i : i + 2]) for i in range(0, 12, 2))
    return RelativeTime(years, months, days, hours, minutes, seconds)


def _parse_absolute(value: str) -> datetime:
    if not _is_digits(value[:15]):
        raise ValueError("characters 1-15 must be digits")
    year, month, day, hour, minute, second = (int(value[i : i + 2]) for i in range(0, 12, 2))
    tenths = int(value[12])
    quarters = int(value[13:15])
    if quarters > MAX_OFFSET_QUARTERS:
        raise ValueError(f"UTC offset {quarters} quarter hours is beyond 48")
    offset = quarters * _QUARTER
    # SMPP 3.4 §7.1.1: '+' means local time is ahead of UTC, '-' behind it.
    zone = timezone(offset if value[15] == "+" else -offset)
    # datetime() itself rejects month 13, 30 February, hour 24, second 60 ... with ValueError.
    local = datetime(2000 + year, month, day, hour, minute, second, tenths * 100_000, zone)
    return local.astimezone(UTC)


def format_absolute(when: datetime) -> str:
    """`when` as a 16-character absolute SMPP time, in its own UTC offset.

    The offset of `when` must be a whole number of quarter hours within ±12 hours (UTC always
    is); convert first otherwise. Tenths of a second are truncated, finer digits dropped.
    Raises ValueError for a naive datetime, an unusable offset, or a year outside 2000..2099.
    """
    offset = when.utcoffset()
    if offset is None:
        raise ValueError("format_absolute needs an aware datetime")
    quarters, remainder = divmod(abs(offset), _QUARTER)
    if remainder or quarters > MAX_OFFSET_QUARTERS:
        raise ValueError(f"UTC offset {offset} is not a multiple of 15 minutes within ±12 hours")
    if not 2000 <= when.year <= 2099:
        raise ValueError(f"SMPP times hold years 2000..2099 only, got {when.year}")
    sign = "-" if offset < timedelta(0) else "+"
    return (
        f"{when.year % 100:02d}{when.month:02d}{when.day:02d}"
        f"{when.hour:02d}{when.minute:02d}{when.second:02d}"
        f"{when.microsecond // 100_000}{quarters:02d}{sign}"
    )


def format_relative(delta: timedelta | RelativeTime) -> str:
    """A 16-character relative SMPP time `YYMMDDhhmmss000R` (SMPP 3.4 §7.1.1.2).

    A timedelta is written as days, hours, minutes and seconds (so it must be under 100 days;
    fractions of a second are truncated): raises ValueError otherwise. A RelativeTime is
    written as given, years and months included.
    """
    rel = delta if isinstance(delta, RelativeTime) else RelativeTime.from_timedelta(delta)
    return (
        f"{rel.years:02d}{rel.months:02d}{rel.days:02d}"
        f"{rel.hours:02d}{rel.minutes:02d}{rel.seconds:02d}000R"
    )


def parse_receipt_date(value: str, *, tz: tzinfo = UTC) -> datetime:
    """A delivery receipt date (SMPP 3.4 Appendix B) as an aware UTC datetime.

    Reads `YYMMDDhhmm`, `YYMMDDhhmmss` and `YYYYMMDDhhmmss`, taken as local time in `tz`.
    Raises ValueError for anything else, including the all-zero "no date" placeholder.
    """
    if not _is_digits(value):
        raise ValueError(f"receipt date {value!r} is not digits")
    if len(value) == 14:
        year, rest = int(value[:4]), value[4:]
    elif len(value) in (10, 12):
        year, rest = 2000 + int(value[:2]), value[2:]
    else:
        raise ValueError(f"receipt date {value!r} has {len(value)} digits, expected 10, 12 or 14")
    month, day, hour, minute = (int(rest[i : i + 2]) for i in range(0, 8, 2))
    second = int(rest[8:10]) if len(rest) == 10 else 0
    return datetime(year, month, day, hour, minute, second, tzinfo=tz).astimezone(UTC)


def format_receipt_date(when: datetime, *, seconds: bool = False, tz: tzinfo = UTC) -> str:
    """`when` as a receipt date in `tz`: `YYMMDDhhmm` (Appendix B), or `YYMMDDhhmmss`.

    Raises ValueError for a naive datetime or a year outside 2000..2099.
    """
    local = _as_utc(when, "when").astimezone(tz)
    if not 2000 <= local.year <= 2099:
        raise ValueError(f"receipt dates hold years 2000..2099 only, got {local.year}")
    return local.strftime("%y%m%d%H%M%S" if seconds else "%y%m%d%H%M")


def _as_utc(when: datetime, name: str) -> datetime:
    if when.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (opensmsc has no naive datetimes)")
    return when.astimezone(UTC)


def _is_digits(text: str) -> bool:
    # str.isdigit() accepts "²" and Arabic-Indic digits; the wire format is ASCII only.
    return text.isascii() and text.isdigit()
