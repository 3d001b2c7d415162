"""Loading the policy file (routing/policy_file.py over config's read_policy): every error names
the file, line and key (the price list: line and column); `[routing] policy_file`."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensmsc.config import ConfigError, load
from opensmsc.routing import PolicyFileError, load_rules


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    file = tmp_path / name
    file.write_text(text)
    return file


def errors_of(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(PolicyFileError) as caught:
        load_rules(path, **kwargs)  # type: ignore[arg-type]
    return [str(error) for error in caught.value.errors]


def test_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """zone = "Mars/Olympus"

[[window]]
name = "day"
start = "25:00"

[[rule]]
name = "a"
routes = ["x"]

[[rule]]
name = "b"
regex = "([unclosed"
reject = "ESME_NOPE"
window = "dusk"
prefix = ["44x"]
""",
    )
    assert errors_of(path) == [
        f'{path}:1: zone: expected an IANA time zone such as "Europe/London", got "Mars/Olympus"',
        f'{path}:5: window[0].start: expected a time "HH:MM", got "25:00"',
        f'{path}:13: rule[1].regex: expected a regular expression, got "([unclosed"',
        f"{path}:14: rule[1].reject: expected an SMPP command_status name such as "
        f'"ESME_RINVSRCADR", got "ESME_NOPE"',
        # Cross-key rules run in the same pass wherever the keys they read are valid.
        f'{path}:15: rule[1].window: no [[window]] named "dusk"',
        f'{path}:16: rule[1].prefix[0]: expected a prefix of 1 to 20 digits, got "44x"',
    ]


def test_cross_references_and_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path, '[[rule]]\nname = "a"\nwindow = "dusk"\n[[rule]]\nname = "a"\n')
    assert errors_of(path) == [
        f'{path}:3: rule[0].window: no [[window]] named "dusk"',
        f'{path}:5: rule[1].name: "a" is already used by rule[0]',
    ]
    both = write(tmp_path, '[[rule]]\nname = "a"\nreject = "ESME_RX_R_APPN"\nthrottle_ms = 10\n')
    assert errors_of(both) == [
        f"{both}:4: rule[0].throttle_ms: give reject or throttle_ms, not both"
    ]


def test_unknown_routes_when_the_node_says_which_it_has(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'default_routes = ["network"]\n[[rule]]\nname = "a"\nroutes = ["loopback", "carier-a"]\n',
    )
    load_rules(path)  # without the node's routes any name goes
    assert errors_of(path, routes={"network", "loopback", "carrier-a"}) == [
        f'{path}:4: rule[0].routes[1]: "carier-a" is no route; expected one of: '
        '"carrier-a", "loopback", "network"'
    ]


def test_an_unknown_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, '[[rule]]\nname = "a"\nprefixes = ["44"]\n')
    assert errors_of(path) == [f'{path}:3: rule[0].prefixes: unknown key; did you mean "prefix"?']


def test_price_list_errors_name_line_and_column(tmp_path: Path) -> None:
    write(
        tmp_path,
        "route,mcc_mnc,price\na,23410,0.01\na,2341,0.02\nb,*,cheap\na,23410,0.03\nc,23415\n",
        "prices.csv",
    )
    path = write(tmp_path, 'prices_file = "prices.csv"\n')
    csv = tmp_path / "prices.csv"
    assert errors_of(path) == [
        f'{csv}:3: mcc_mnc: expected an MCC-MNC of 5 or 6 digits or "*", got "2341"',
        f'{csv}:4: price: expected a number, got "cheap"',
        f"{csv}:5: mcc_mnc: a already has a price to 23410",
        f"{csv}:6: 2 fields, expected 3",
    ]


def test_price_list_missing_is_an_error_of_the_policy_file(tmp_path: Path) -> None:
    path = write(tmp_path, 'prices_file = "nowhere.csv"\n')
    assert errors_of(path) == [f"{path}:1: prices_file: file not found: {tmp_path / 'nowhere.csv'}"]


def test_prices_load(tmp_path: Path) -> None:
    write(tmp_path, "route,mcc_mnc,price\na,23410,0.01\na,*,0.05\n", "prices.csv")
    rules = load_rules(write(tmp_path, 'prices_file = "prices.csv"\n'))
    assert rules.price("a", "23410") == 0.01
    assert rules.price("a", "20801") == 0.05
    assert rules.price("b", "23410") is None


def test_routing_policy_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    write(folder, "", "policy.toml")
    config = write(folder, '[routing]\npolicy_file = "policy.toml"\n', "opensmsc.toml")
    assert load(config).routing.policy_file == folder / "policy.toml"
    missing = write(folder, '[routing]\npolicy_file = "other.toml"\n', "bad.toml")
    with pytest.raises(ConfigError, match=r"bad.toml:2: routing.policy_file: file not found"):
        load(missing)


def test_docs_name_every_key_of_the_policy_file() -> None:
    import dataclasses
    import typing

    from opensmsc.config import PolicyFile

    doc = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text()
    seen: set[type] = set()
    missing: list[str] = []

    def walk(cls: type) -> None:
        seen.add(cls)
        for name, tp in typing.get_type_hints(cls).items():
            if f"`{name}`" not in doc and f"`[{name}]`" not in doc and f"`[[{name}]]`" not in doc:
                missing.append(f"{cls.__name__}.{name}")
            for arg in (tp, *typing.get_args(tp)):
                if dataclasses.is_dataclass(arg) and arg not in seen:
                    walk(arg)  # type: ignore[arg-type]

    walk(PolicyFile)
    assert missing == []
