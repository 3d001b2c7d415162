"""`opensmsc route explain` and `opensmsc check-config` with a policy file, run in-process
through main(argv)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensmsc.cli.main import main

CONFIG = """
[[smpp.client]]
name = "carrier-a"
host = "127.0.0.1"
port = 2775
system_id = "x"
password = "y"
[routing]
default_route = "loopback"
policy_file = "policy.toml"
"""
POLICY = """
zone = "Europe/London"
prices_file = "prices.csv"
[[window]]
name = "daytime"
start = "08:00"
end = "21:00"
[[rule]]
name = "casino"
keywords = ["casino"]
reject = "ESME_RX_R_APPN"
reason = "gambling"
[[rule]]
name = "uk"
prefix = ["44"]
routes = ["carrier-a", "network"]
[[rule]]
name = "quiet"
account = ["promo"]
defer_until = "daytime"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "policy.toml").write_text(POLICY)
    (tmp_path / "prices.csv").write_text("route,mcc_mnc,price\nnetwork,*,0.01\n")
    path = tmp_path / "opensmsc.toml"
    path.write_text(CONFIG)
    return path


def explain(config: Path, *args: str) -> int:
    return main(["route", "explain", "--config", str(config), *args])


def test_explain_prints_the_decision_and_every_rule_in_order(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = explain(
        config, "--account", "promo", "--from", "ACME", "--to", "+447700900123",
        "--text", "hello", "--at", "2026-01-07T22:00:00+00:00",
    )  # fmt: skip
    assert status == 0
    assert capsys.readouterr().out.splitlines() == [
        "decision: defer via network (0.01), carrier-a retry_after_ms 36000000 "
        '(outside window "daytime")',
        "  + input destination: E.164 447700900123, mcc_mnc unknown, source alphanumeric",
        "  - lists block/allow: passed",
        "  + rule uk: prefix 44; routes carrier-a, network",
        "  - rule casino: text has a keyword of ['casino']: got \"hello\"",
        "  + rule quiet: no prefix; defer 36000000 ms until 2026-01-08T08:00:00+00:00",
        "  + route network: price 0.01, no reports, weight 1; healthy",
        "  + route carrier-a: price none, no reports, weight 1; healthy",
    ]


def test_explain_a_reject_shows_the_rules_not_reached(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = explain(
        config, "--account", "acme", "--from", "447700900999", "--to", "33612345678",
        "--text", "Casino night",
    )  # fmt: skip
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "decision: reject status ESME_RX_R_APPN (gambling)"
    assert "  + rule casino: no prefix; reject ESME_RX_R_APPN" in lines
    assert "  - rule quiet: not reached: decided above" in lines
    assert not any("rule uk" in line for line in lines)  # 33...: not a candidate


def test_explain_falls_back_to_routing_prefixes(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert explain(config, "--account", "a", "--from", "ACME", "--to", "33612345678") == 0
    out = capsys.readouterr().out
    assert out.startswith("decision: route via loopback\n")
    assert "+ route fallback: no rule routes: [routing] decides" in out


def test_a_bad_policy_file_is_a_config_error(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = config.parent / "policy.toml"
    policy.write_text(POLICY.replace('routes = ["carrier-a", "network"]', 'routes = ["carrier-b"]'))
    assert explain(config, "--account", "a", "--from", "ACME", "--to", "447700900123") == 2
    expected = (
        f'{policy}:16: rule[1].routes[0]: "carrier-b" is no route; expected one of: '
        '"carrier-a", "loopback", "network"'
    )
    assert capsys.readouterr().err.splitlines() == [expected]
    assert main(["check-config", str(config)]) == 1
    assert capsys.readouterr().out.splitlines() == [expected]


def test_check_config_reads_the_price_list(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(config)]) == 0
    (config.parent / "prices.csv").write_text("route,mcc_mnc,price\nnetwork,*,-1\n")
    assert main(["check-config", str(config)]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{config.parent / 'prices.csv'}:2: price: expected a price of 0 or more, got -1"
    )


def test_without_a_policy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "opensmsc.toml"
    path.write_text("")
    assert explain(path, "--account", "a", "--from", "ACME", "--to", "447700900123") == 2
    assert "set [routing] policy_file" in capsys.readouterr().err
