"""Live changes on top of the configuration file (config/overlay.py) and a configuration back to
TOML (config/dump.py): the same checks and words as the file, who wins, what is forgotten."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensmsc.cli.config_admin import parse_assignments
from opensmsc.config import (
    KINDS,
    Change,
    ChangeOp,
    Config,
    apply_changes,
    check,
    conflicts,
    dumps,
    key_text,
    loads,
    redundant,
    relative_key,
    set_body,
)

HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"

FILE = f"""
[node]
data_dir = "/var/lib/opensmsc"
[smpp.server]
port = 2775
interface_versions = ["3.4", "5.0"]
[[smpp.client]]
name = "c1"
host = "smsc.example.net"
system_id = "gw"
password = "pw"
bind = "pair"
[[accounts]]
system_id = "esme1"
password_hash = "{HASH}"
allowed_networks = ["10.0.0.0/8", "2001:db8::/32"]
bind_modes = ["transmitter"]
throughput = 12.5
[[accounts.distribution_lists]]
name = "team"
members = ["447700900001", "447700900002"]
[routing]
default_route = "loopback"
[[routing.routes]]
prefix = "44"
route = "c1"
"""


@pytest.fixture
def config() -> Config:
    return loads(FILE)


def test_a_configuration_dumped_reads_back_the_same(config: Config) -> None:
    text = dumps(config, header="exported\nby a test")
    assert text.startswith("# exported\n# by a test\n")
    assert loads(text) == config
    assert "tls_port" not in text  # keys at their default are left out
    assert loads(dumps(loads(""))) == loads("")


def test_a_text_value_with_quotes_and_control_characters_survives(config: Config) -> None:
    odd = apply_changes(
        config,
        [Change("connectors", "c1", ChangeOp.SET, {"system_type": 'a"\\\x7f\tb'})],
        base_dir=Path("/"),
    )[0]
    assert loads(dumps(odd)) == odd


def test_changes_are_built_and_checked_with_the_files_rules(config: Config, tmp_path: Path) -> None:
    new, problems = apply_changes(
        config,
        [
            Change(
                "accounts", "esme2", ChangeOp.ADD, {"system_id": "esme2", "password_hash": HASH}
            ),
            Change("accounts", "esme1", ChangeOp.SET, {"throughput": None, "window": 20}),
            Change("routes", "44", ChangeOp.REMOVE),
            Change("connectors", "c1", ChangeOp.SET, {"enabled": False}),
        ],
        base_dir=tmp_path,
    )
    assert problems == []
    assert [a.system_id for a in new.accounts] == ["esme1", "esme2"]
    assert new.accounts[0].throughput == 0.0 and new.accounts[0].window == 20  # None: default
    assert new.accounts[0].distribution_lists == config.accounts[0].distribution_lists
    assert new.routing.routes == () and new.smpp.client[0].enabled is False

    # A bad value: the file's message for that key, whether in a file or a change.
    (tmp_path / "bad.toml").write_text(FILE.replace("throughput = 12.5", "throughput = -1"))
    [file_error] = check(tmp_path / "bad.toml")
    same, problems = apply_changes(
        config, [Change("accounts", "esme1", ChangeOp.SET, {"throughput": -1})], base_dir=tmp_path
    )
    assert same is config
    assert [(key_text(p.key), p.message) for p in problems] == [
        ("accounts[0].throughput", file_error.message)
    ]
    assert file_error.key == "accounts[0].throughput"
    assert relative_key(problems[0], KINDS["accounts"], 0) == "throughput"

    # A rule across items: a connector a route names cannot go.
    _, problems = apply_changes(
        config, [Change("connectors", "c1", ChangeOp.REMOVE)], base_dir=tmp_path
    )
    assert [key_text(p.key) for p in problems] == ["routing.routes[0].route"]
    assert relative_key(problems[0], KINDS["connectors"], 0) == "routing.routes[0].route"


def test_a_new_secret_replaces_the_old_one(config: Config) -> None:
    keys = set_body(KINDS["connectors"], {"password_env": "C1_PASSWORD"})
    assert keys == {"password_env": "C1_PASSWORD", "password": None, "password_file": None}
    new, problems = apply_changes(
        config, [Change("connectors", "c1", ChangeOp.SET, keys)], base_dir=Path("/")
    )
    assert problems == []
    assert new.smpp.client[0].password is None
    assert new.smpp.client[0].password_env == "C1_PASSWORD"
    assert set_body(KINDS["accounts"], {"window": 3}) == {"window": 3}


def test_the_file_saying_the_same_makes_a_change_redundant(config: Config) -> None:
    base = Path("/")
    window = Change("accounts", "esme1", ChangeOp.SET, {"window": 20})
    assert not redundant(config, window, base_dir=base)
    folded = loads(FILE.replace("throughput = 12.5", "throughput = 12.5\nwindow = 20"))
    assert redundant(folded, window, base_dir=base)
    gone = Change("routes", "44", ChangeOp.REMOVE)
    assert not redundant(config, gone, base_dir=base)
    assert redundant(loads(FILE.split("[[routing.routes]]", maxsplit=1)[0]), gone, base_dir=base)


def test_conflicts_name_each_key_both_changed(config: Config) -> None:
    changes = [
        Change("accounts", "esme1", ChangeOp.SET, {"window": 20, "max_binds": 2}),
        Change("routes", "44", ChangeOp.REMOVE),
    ]
    new_file = loads(
        FILE.replace("throughput = 12.5", "throughput = 1.0\nwindow = 30").replace(
            'route = "c1"', 'route = "loopback"'
        )
    )
    assert conflicts(config, new_file, changes) == [
        "accounts[esme1].window: changed in the file and live: live wins",
        "routing.routes[44]: changed in the file, but it was removed live: live wins",
    ]
    new, problems = apply_changes(new_file, changes, base_dir=Path("/"))
    assert problems == []
    assert new.accounts[0].window == 20 and new.accounts[0].throughput == 1.0


def test_cli_values_are_read_as_their_keys_type() -> None:
    assert parse_assignments(
        KINDS["accounts"],
        [
            "window=20",
            "throughput=2.5",
            "enabled=false",
            "bind_modes=transmitter,receiver",
            "allowed_networks=10.0.0.0/8",
            'mo_prefixes=["44", "45"]',
            "webhook_url=https://example.com/x",
            "max_binds=",
            "window_typo=3",
        ],
    ) == {
        "window": 20,
        "throughput": 2.5,
        "enabled": False,
        "bind_modes": ["transmitter", "receiver"],
        "allowed_networks": ["10.0.0.0/8"],
        "mo_prefixes": ["44", "45"],
        "webhook_url": "https://example.com/x",
        "max_binds": None,
        "window_typo": 3,
    }
    assert parse_assignments(KINDS["routes"], ["route=c1"]) == {"route": "c1"}
    assert parse_assignments(KINDS["connectors"], ["interface_version=5.0", "port=x"]) == {
        "interface_version": "5.0",
        "port": "x",  # not a number: the node says what it wanted
    }
