"""Number normalisation, the subscriber table, prefix defaults and CSV loading."""

from __future__ import annotations

from pathlib import Path

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from opensmsc.config import SubscriberStateName
from opensmsc.network import (
    DuplicateSubscriber,
    Latency,
    PrefixDefault,
    SubscriberNotFound,
    SubscriberState,
    SubscriberTable,
)
from opensmsc.routing import InvalidNumber, NumberDataError, Numbering, country_code

GB = Numbering("GB")

# -- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "+447700900123",
        "447700900123",
        "00447700900123",
        "+44 7700 900123",
        "+44 (0)7700-900123",
        "07700 900123",
        "07700900123",
        447700900123,
    ],
)
def test_forms_of_one_number(text: str | int) -> None:
    assert GB.normalise(text) == 447700900123
    assert GB.e164(text) == "+447700900123"


def test_national_numbers_use_the_default_region() -> None:
    assert Numbering("FR").normalise("06 12 34 56 78") == 33612345678
    assert Numbering("de").normalise("0151 23456789") == 4915123456789


def test_italian_leading_zero_is_kept() -> None:
    assert Numbering("IT").normalise("06 1234 5678") == 390612345678


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("44abc", "not digits"),
        ("", "empty"),
        ("+", "not digits"),
        ("+4477", "digits, expected 7 to 15"),
        ("+4477009001234567", "digits, expected 7 to 15"),
        ("2812345678", "no country code"),
        ("0123", "digits, expected 7"),
        ("+44 12", "digits, expected 7"),
    ],
)
def test_invalid_numbers_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidNumber, match=reason) as caught:
        GB.normalise(text)
    assert caught.value.text == text
    assert text in str(caught.value) or text == ""


def test_national_number_without_a_region() -> None:
    with pytest.raises(InvalidNumber, match="default_region"):
        Numbering().normalise("07700900123")


def test_unknown_region() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        Numbering("XX")


def test_strict_mode_asks_for_numbering_plan_validity() -> None:
    strict = Numbering("GB", strict=True)
    assert strict.normalise("+447911123456") == 447911123456
    with pytest.raises(InvalidNumber, match="numbering plan"):
        strict.normalise("+447700900123")  # the UK's drama range: possible, not valid
    assert GB.normalise("+447700900123") == 447700900123


def test_country_code() -> None:
    assert country_code(447700900123) == 44
    assert country_code(12025550123) == 1
    assert country_code(35312345678) == 353


# Valid example numbers of every region: the fast path agrees with phonenumbers.
_EXAMPLES = [
    phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    if (number := phonenumbers.example_number_for_type(region, 1)) is not None  # MOBILE
]


@given(st.sampled_from(_EXAMPLES))
def test_fast_path_agrees_with_phonenumbers(e164: str) -> None:
    parsed = phonenumbers.parse(e164, None)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    region = phonenumbers.region_code_for_number(parsed)
    digits = int(e164[1:])
    assert Numbering().normalise(e164) == digits
    assert Numbering().normalise(e164[1:]) == digits
    assert Numbering().normalise("00" + e164[1:]) == digits
    assert Numbering(strict=True).normalise(e164) == digits
    if national.startswith("0") and region is not None:
        assert Numbering(region).normalise(national) == digits


@given(st.integers(min_value=10**6, max_value=10**15 - 1))
def test_normalisation_is_idempotent(value: int) -> None:
    try:
        first = GB.normalise(str(value))
    except InvalidNumber:
        return
    assert GB.normalise(f"+{first}") == first
    assert GB.normalise(first) == first


# -- the table ----------------------------------------------------------------------------------


def table(**kwargs: object) -> SubscriberTable:
    return SubscriberTable(
        numbering=GB,
        defaults=[
            PrefixDefault(prefix="44", home_network="23415", **kwargs),  # type: ignore[arg-type]
            PrefixDefault(prefix="447700", home_network="23410", state=SubscriberState.ABSENT),
            PrefixDefault(prefix="33", home_network="20801", msc_address="33600000001"),
        ],
    )


def test_add_get_change_remove() -> None:
    subs = table()
    added = subs.add("07700 900123", imsi="234100000000001", state="busy")
    assert added.msisdn == 447700900123 and added.listed
    assert added.home_network == "23410"  # from the 447700 prefix default
    assert added.state is SubscriberState.BUSY
    assert subs.get("+447700900123") == added
    assert "447700900123" in subs and len(subs) == 1
    with pytest.raises(DuplicateSubscriber):
        subs.add("447700900123")
    changed = subs.change("447700900123", state=SubscriberState.ATTACHED, ported_to="23420")
    assert changed.state is SubscriberState.ATTACHED and changed.ported_to == "23420"
    assert changed.imsi == "234100000000001"  # an explicit IMSI stays
    assert subs.change("447700900123", ported_to="").ported_to is None
    assert subs.remove("447700900123") is True
    assert subs.remove("447700900123") is False
    assert subs.get("447700900123") is None
    with pytest.raises(SubscriberNotFound):
        subs.change("447700900123", state="absent")


def test_removed_rows_are_reused() -> None:
    subs = table()
    subs.add("447700900001")
    subs.add("447700900002")
    subs.remove("447700900001")
    subs.add("447700900003", state="barred")
    assert [s.msisdn for s in subs] == [447700900002, 447700900003]
    assert subs.get("447700900003").state is SubscriberState.BARRED  # type: ignore[union-attr]
    assert subs.get("447700900001") is None


def test_made_up_imsi_follows_the_network() -> None:
    subs = table()
    subs.add("447911123456")
    assert subs.get("447911123456").imsi == "234157911123456"  # type: ignore[union-attr]
    changed = subs.change("447911123456", ported_to="23420")
    assert changed.imsi == "234207911123456"


def test_leading_zero_imsi_and_test_network() -> None:
    subs = SubscriberTable()
    subs.add("+3312345678", imsi="001010000000001")
    found = subs.get("+3312345678")
    assert found is not None and found.imsi == "001010000000001"
    assert found.home_network == "00101"


def test_prefix_defaults_longest_match() -> None:
    subs = table(latency=Latency("fixed", 20.0))
    a = subs.resolve("447700900123")
    assert (a.home_network, a.state, a.listed) == ("23410", SubscriberState.ABSENT, False)
    b = subs.resolve("447911123456")
    assert (b.home_network, b.state) == ("23415", SubscriberState.ATTACHED)
    assert b.latency == Latency("fixed", 20.0) != a.latency
    c = subs.resolve("+33612345678")
    assert (c.home_network, c.msc_address) == ("20801", "33600000001")
    d = subs.resolve("+12025550123")  # no prefix: the built-in catch-all
    assert (d.home_network, d.state) == ("00101", SubscriberState.ATTACHED)
    assert d.msc_address == "19000000"
    subs.set_defaults([PrefixDefault(prefix="", state=SubscriberState.UNKNOWN)])
    assert subs.resolve("+12025550123").state is SubscriberState.UNKNOWN
    assert subs.default_for("447700900123").prefix == ""


def test_bad_fields_are_refused() -> None:
    subs = table()
    with pytest.raises(ValueError, match="IMSI"):
        subs.add("447700900123", imsi="12")
    with pytest.raises(ValueError, match="MCC-MNC"):
        subs.add("447700900123", home_network="2341")
    with pytest.raises(ValueError, match="probability"):
        subs.add("447700900123", failure_probability=1.5)
    with pytest.raises(ValueError, match="unknown state"):
        subs.add("447700900123", state="asleep")
    with pytest.raises(InvalidNumber):
        subs.add("not a number")
    assert len(subs) == 0


def test_config_states_match_the_enum() -> None:
    from typing import get_args

    assert set(get_args(SubscriberStateName)) == {state.value for state in SubscriberState}


# -- CSV ----------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "subscribers.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_loads_every_column_and_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "msisdn,imsi,home_network,msc_address,state,ported_to,serving_network,latency,"
        "failure_probability,absent_diagnostic\n"
        "+447700900001,234150000000001,23415,447000000001,attached,,,fixed:20,0,1\n"
        "07700 900002,,,,absent,23420,20801,normal:40:10,0.5,0\n"
        "\n"
        "447911123456,,,,,,,,,\n",
    )
    subs = table()
    assert subs.load_csv(path) == 3
    one = subs.get("447700900001")
    assert one is not None
    assert (one.imsi, one.msc_address, one.latency) == (
        "234150000000001",
        "447000000001",
        Latency("fixed", 20.0),
    )
    two = subs.get("447700900002")
    assert two is not None
    assert (two.state, two.ported_to, two.serving_network) == (
        SubscriberState.ABSENT,
        "23420",
        "20801",
    )
    assert (two.home_network, two.failure_probability, two.absent_diagnostic) == ("23410", 0.5, 0)
    assert two.imsi.startswith("23420")
    three = subs.get("447911123456")
    assert three is not None and three.home_network == "23415" and three.listed
    assert three.state is SubscriberState.ATTACHED


def test_csv_with_only_msisdn_column(tmp_path: Path) -> None:
    path = write(tmp_path, "msisdn\n+447700900001\n+33612345678\n")
    subs = table()
    assert subs.load_csv(path) == 2
    assert subs.get("+33612345678").home_network == "20801"  # type: ignore[union-attr]


def test_csv_merges_into_a_non_empty_table(tmp_path: Path) -> None:
    subs = table()
    subs.add("447700900001", state="barred")
    subs.add("447700900009")
    path = write(tmp_path, "msisdn,state\n447700900001,busy\n447700900002,attached\n")
    assert subs.load_csv(path) == 2
    assert len(subs) == 3
    assert subs.get("447700900001").state is SubscriberState.BUSY  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("msisdn,state\n447700900001,attached\n447700900002,asleep\n", 3, "state", "asleep"),
        ("msisdn,imsi\n44abc,\n", 2, "msisdn", "not a valid phone number"),
        ("msisdn,imsi\n447700900001,12x\n", 2, "imsi", "IMSI"),
        ("msisdn,home_network\n447700900001,2341\n", 2, "home_network", "MCC-MNC"),
        ("msisdn,latency\n447700900001,slow\n", 2, "latency", "expected fixed"),
        ("msisdn,failure_probability\n447700900001,2\n", 2, "failure_probability", "0 to 1"),
        ("msisdn,failure_probability\n447700900001,x\n", 2, "failure_probability", "float"),
        ("msisdn,absent_diagnostic\n447700900001,300\n", 2, "absent_diagnostic", "0 to 255"),
        ("msisdn,ported_to\n447700900001,1\n", 2, "ported_to", "MCC-MNC"),
        ("msisdn\n447700900001\n+447700900001\n", 3, "msisdn", "twice"),
        ("msisdn,state\n447700900001\n", 2, "", "1 fields, expected 2"),
        ("msisdn,colour\n447700900001,red\n", 1, "", "unknown column 'colour'"),
        ("imsi\n234150000000001\n", 1, "", "no msisdn column"),
    ],
)
def test_csv_errors_name_file_line_and_column(
    tmp_path: Path, text: str, line: int, column: str, message: str
) -> None:
    path = write(tmp_path, text)
    subs = table()
    subs.add("447911123456")
    with pytest.raises(NumberDataError, match=message) as caught:
        subs.load_csv(path)
    error = caught.value
    assert (error.path, error.line, error.key) == (str(path), line, column)
    assert str(error).startswith(f"{path}:{line}: ")
    assert [s.msisdn for s in subs] == [447911123456]  # all or nothing


def test_csv_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(NumberDataError, match="cannot read"):
        table().load_csv(tmp_path / "nope.csv")
    with pytest.raises(NumberDataError, match="empty file"):
        table().load_csv(write(tmp_path, ""))


# -- property: the table behaves like a dict ----------------------------------------------------

_numbers = st.integers(min_value=0, max_value=40).map(lambda i: f"+4477009001{i:02d}")
_states = st.sampled_from(list(SubscriberState))


class TableMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.table = table()
        self.model: dict[int, SubscriberState] = {}

    @rule(number=_numbers, state=_states)
    def add(self, number: str, state: SubscriberState) -> None:
        key = int(number[1:])
        if key in self.model:
            with pytest.raises(DuplicateSubscriber):
                self.table.add(number, state=state)
        else:
            self.table.add(number, state=state)
            self.model[key] = state

    @rule(number=_numbers, state=_states)
    def change(self, number: str, state: SubscriberState) -> None:
        key = int(number[1:])
        if key in self.model:
            self.table.change(number, state=state)
            self.model[key] = state
        else:
            with pytest.raises(SubscriberNotFound):
                self.table.change(number, state=state)

    @rule(number=_numbers)
    def remove(self, number: str) -> None:
        key = int(number[1:])
        assert self.table.remove(number) is (self.model.pop(key, None) is not None)

    @rule(number=_numbers)
    def lookup(self, number: str) -> None:
        key = int(number[1:])
        found = self.table.get(number)
        if key in self.model:
            assert found is not None and found.state is self.model[key]
        else:
            assert found is None
            assert not self.table.resolve(number).listed

    @invariant()
    def same_size_and_members(self) -> None:
        assert len(self.table) == len(self.model)
        assert {s.msisdn: s.state for s in self.table} == self.model


TestTableMachine = TableMachine.TestCase
TestTableMachine.settings = settings(max_examples=50, stateful_step_count=40, deadline=None)
