"""The configuration file: typed model, defaults, and errors that say file:line: key: what."""

from __future__ import annotations

import enum
import textwrap
from dataclasses import dataclass
from ipaddress import ip_network
from pathlib import Path
from typing import Literal

import pytest

from opensmsc.config import (
    AccountConfig,
    BindMode,
    ClientBind,
    Config,
    ConfigError,
    LogFormat,
    LogLevel,
    MessageIdFormat,
    OverloadAction,
    SmppClientConfig,
    SmppVersion,
    check,
    load,
    loads,
)
from opensmsc.config.load import key_text
from opensmsc.config.locate import Lines
from opensmsc.config.rules import Port, PositiveInt, Problem
from opensmsc.config.schema import build

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "opensmsc.toml"
# PEM blocks whose base64 is DER (an empty ASN.1 SEQUENCE): what the configuration checks.
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"
HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$yn0sTbcFESm2oo2nJaGgSA"
    "$/N6hQOPrdrpCh1boR/04yRTPNAiadI/CD1KIlU1Bfc4"
)


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Write TOML to tmp_path/opensmsc.toml and return the path as the CLI would name it."""
    monkeypatch.chdir(tmp_path)

    def _write(text: str, name: str = "opensmsc.toml") -> str:
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return name

    return _write


def messages(path: str) -> list[str]:
    return [str(error) for error in check(path)]


# --- valid files and defaults --------------------------------------------------------------


def test_no_file_gives_the_embedded_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load(None)
    assert config.node.name == "opensmsc"
    assert config.node.data_dir == tmp_path / "data"
    assert config.logging.level is LogLevel.INFO
    assert config.logging.format is LogFormat.TEXT
    server = config.smpp.server
    assert (server.port, server.tls_port, server.tls_enabled) == (2775, 3550, True)
    assert server.bind_address == "0.0.0.0"
    assert server.tls_cert_file is None
    assert server.window == 10
    assert server.overload_action is OverloadAction.THROTTLE
    assert server.interface_versions == (SmppVersion.V33, SmppVersion.V34, SmppVersion.V50)
    assert config.smpp.client == ()
    assert config.accounts == ()


def test_empty_file_equals_no_file(write) -> None:  # type: ignore[no-untyped-def]
    path = write("")
    assert load(path) == load(None)


def test_defaults_live_in_the_dataclasses(write) -> None:  # type: ignore[no-untyped-def]
    config = load(write("[smpp.server]\n"))
    assert config.smpp.server == type(config.smpp.server)()
    assert config.logging == Config().logging


def test_full_file_loads_every_section(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "certs").mkdir()
    for name, text in (
        ("smsc.crt", PEM_CERT),
        ("smsc.key", PEM_KEY),
        ("ca.pem", PEM_CERT),
        ("client.crt", PEM_CERT + PEM_KEY),
        ("secret", "x"),
    ):
        (tmp_path / "certs" / name).write_text(text)
    path = write(
        f"""
        [node]
        name = "smsc-1"
        data_dir = "/var/lib/opensmsc"

        [logging]
        level = "debug"
        format = "json"

        [smpp.server]
        bind_address = "::"
        port = 0
        tls_port = 0
        tls_cert_file = "certs/smsc.crt"
        tls_key_file = "certs/smsc.key"
        tls_ca_file = "certs/ca.pem"
        require_client_cert = true
        enquire_link_interval = 0
        window = 100
        overload_action = "queue_full"
        interface_versions = ["3.4", 5.0]

        [[accounts]]
        system_id = "esme-a"
        password_hash = "{HASH}"
        bind_modes = ["transceiver"]
        allowed_networks = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]
        throughput = 25
        cert_fingerprints = ["AB:" + "cd" * 31]

        [[smpp.client]]
        name = "carrier-a"
        host = "192.0.2.1"
        tls = true
        tls_ca_file = "certs/ca.pem"
        tls_cert_file = "certs/client.crt"
        system_id = "me"
        password_file = "certs/secret"
        bind = "pair"
        message_id_format = "hex"
        interface_version = "5.0"
        reconnect_min_delay = 2
        """.replace('"AB:" + "cd" * 31', '"AB:' + "cd" * 31 + '"')
    )
    config = load(path)
    assert config.node.data_dir == Path("/var/lib/opensmsc")
    assert config.logging.format is LogFormat.JSON
    server = config.smpp.server
    assert server.tls_cert_file == tmp_path / "certs" / "smsc.crt"
    assert server.enquire_link_interval == 0.0
    assert isinstance(server.enquire_link_interval, float)
    assert server.interface_versions == (SmppVersion.V34, SmppVersion.V50)
    assert server.interface_versions[1].code == 0x50
    (account,) = config.accounts
    assert account == AccountConfig(
        system_id="esme-a",
        password_hash=HASH,
        bind_modes=(BindMode.TRANSCEIVER,),
        allowed_networks=(
            ip_network("10.0.0.0/8"),
            ip_network("2001:db8::/32"),
            ip_network("192.0.2.7/32"),
        ),
        throughput=25.0,
        cert_fingerprints=("ab" + "cd" * 31,),
    )
    (client,) = config.smpp.client
    assert client.bind is ClientBind.PAIR
    assert client.message_id_format is MessageIdFormat.HEX
    assert client.password_file == tmp_path / "certs" / "secret"
    assert client.tls_key_file is None  # the key is in the certificate file
    assert client.reconnect_min_delay == 2.0
    assert client.port == 2775


def test_store_trail_is_on_unless_turned_off() -> None:
    assert loads("").store.trail is True
    assert loads("[store]\ntrail = false", source="inline").store.trail is False


def test_the_example_file_loads_clean() -> None:
    assert check(EXAMPLE) == []
    config = load(EXAMPLE)
    assert config.node.data_dir == EXAMPLE.parent / "data"
    assert [client.name for client in config.smpp.client] == ["carrier-a", "carrier-b"]
    assert [account.system_id for account in config.accounts] == ["esme-a", "esme-b"]


def test_config_is_frozen() -> None:
    config = Config()
    with pytest.raises(AttributeError):
        config.node = config.node  # type: ignore[misc]


# --- paths ---------------------------------------------------------------------------------


def test_relative_paths_are_taken_from_the_config_files_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    (folder / "smsc.crt").write_text(PEM_CERT + PEM_KEY)
    (folder / "opensmsc.toml").write_text(
        '[node]\ndata_dir = "../var/data"\n[smpp.server]\ntls_cert_file = "smsc.crt"\n'
    )
    monkeypatch.chdir(tmp_path)
    config = load("etc/opensmsc.toml")
    assert config.node.data_dir == tmp_path / "var" / "data"
    assert config.smpp.server.tls_cert_file == folder / "smsc.crt"


def test_default_data_dir_is_next_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "opensmsc.toml"
    path.write_text("")
    assert load(path).node.data_dir == tmp_path / "sub" / "data"


def test_missing_certificate_file_is_an_error_with_its_resolved_path(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write('[smpp.server]\ntls_cert_file = "nope.crt"\n')
    assert messages(path) == [
        f"opensmsc.toml:2: smpp.server.tls_cert_file: file not found: {tmp_path / 'nope.crt'}"
    ]


def test_empty_path_is_refused(write) -> None:  # type: ignore[no-untyped-def]
    path = write('[node]\ndata_dir = ""\n')
    assert messages(path) == ['opensmsc.toml:2: node.data_dir: expected a file path, got ""']


# --- every kind of error -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[smpp.server]\nwindow = -3\n",
            "opensmsc.toml:2: smpp.server.window: expected an integer from 1 to 10000, got -3",
        ),
        (
            "[smpp.server]\nwindow = 0\n",
            "opensmsc.toml:2: smpp.server.window: expected an integer from 1 to 10000, got 0",
        ),
        (
            '[smpp.server]\nwindow = "10"\n',
            'opensmsc.toml:2: smpp.server.window: expected an integer from 1 to 10000, got "10"',
        ),
        (
            "[smpp.server]\nwindow = 10.0\n",
            "opensmsc.toml:2: smpp.server.window: expected an integer from 1 to 10000, got 10.0",
        ),
        (
            "[smpp.server]\nwindow = true\n",
            "opensmsc.toml:2: smpp.server.window: expected an integer from 1 to 10000, got true",
        ),
        (
            "[smpp.server]\nport = 65536\n",
            "opensmsc.toml:2: smpp.server.port: expected a port number from 0 to 65535, got 65536",
        ),
        (
            "[smpp.server]\nport = -1\n",
            "opensmsc.toml:2: smpp.server.port: expected a port number from 0 to 65535, got -1",
        ),
        (
            "[smpp.server]\nresponse_timeout = 0\n",
            "opensmsc.toml:2: smpp.server.response_timeout: "
            "expected a positive number of seconds, at most 315360000 (ten years), got 0.0",
        ),
        (
            "[smpp.server]\ninactivity_timeout = -1.5\n",
            "opensmsc.toml:2: smpp.server.inactivity_timeout: "
            "expected a number of seconds (0 to disable), at most 315360000 (ten years), got -1.5",
        ),
        (
            '[smpp.server]\nresponse_timeout = "30s"\n',
            "opensmsc.toml:2: smpp.server.response_timeout: "
            'expected a positive number of seconds, at most 315360000 (ten years), got "30s"',
        ),
        (
            "[smpp.server]\nresponse_timeout = nan\n",
            "opensmsc.toml:2: smpp.server.response_timeout: "
            "expected a positive number of seconds, at most 315360000 (ten years), got nan",
        ),
        (
            "[[accounts]]\nsystem_id = 'a'\npassword_env = 'A'\nthroughput = -inf\n",
            "opensmsc.toml:4: accounts[0].throughput: "
            "expected messages per second from 0 to 1000000 (0 for no limit), got -inf",
        ),
        (
            '[smpp.server]\ntls_enabled = "yes"\n',
            'opensmsc.toml:2: smpp.server.tls_enabled: expected true or false, got "yes"',
        ),
        (
            "[node]\nname = 7\n",
            "opensmsc.toml:2: node.name: expected a name of letters, digits, '.', '_', '-', got 7",
        ),
        (
            '[node]\nname = "my node"\n',
            "opensmsc.toml:2: node.name: expected a name of letters, digits, '.', '_', '-', "
            'got "my node"',
        ),
        (
            '[logging]\nlevel = "verbose"\n',
            'opensmsc.toml:2: logging.level: expected one of "debug", "info", "warning", '
            '"error", got "verbose"',
        ),
        (
            '[smpp.server]\noverload_action = "drop"\n',
            'opensmsc.toml:2: smpp.server.overload_action: expected one of "throttle", '
            '"queue_full", got "drop"',
        ),
        (
            '[smpp.server]\ninterface_versions = ["3.4", "4.0"]\n',
            "opensmsc.toml:2: smpp.server.interface_versions[1]: "
            'expected one of "3.3", "3.4", "5.0", got "4.0"',
        ),
        (
            '[smpp.server]\ninterface_versions = "3.4"\n',
            "opensmsc.toml:2: smpp.server.interface_versions: expected an array, each item "
            'one of "3.3", "3.4", "5.0", got "3.4"',
        ),
        (
            '[smpp.server]\nbind_address = "not an address"\n',
            "opensmsc.toml:2: smpp.server.bind_address: "
            'expected a host name or IP address, got "not an address"',
        ),
        (
            '[smpp.server]\nsystem_id = "a-much-too-long-id"\n',
            "opensmsc.toml:2: smpp.server.system_id: expected a string of 1 to 15 characters, "
            'got "a-much-too-long-id" (18 characters)',
        ),
        (
            # an IMPS user id reaches log lines and handsets: no control characters
            '[[imps.users]]\nuser_id = "a\\u001bb"\nmsisdn = "447700900001"\npassword = "x"\n',
            "opensmsc.toml:2: imps.users[0].user_id: expected a user id of 1 to 50 characters, "
            'no spaces, control characters or "(),=&, got "a\x1bb"',
        ),
        (
            "node = 5\n",
            "opensmsc.toml:1: node: expected a table, got 5",
        ),
        (
            "[smpp]\nclient = 1\n",
            "opensmsc.toml:2: smpp.client: expected an array of tables, got 1",
        ),
    ],
)
def test_error_names_file_line_key_and_what_was_expected(write, toml: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert messages(write(toml)) == [expected]


def test_unknown_key_suggests_the_close_one(write) -> None:  # type: ignore[no-untyped-def]
    path = write("[smpp.server]\nport = 2775\nwindw = 3\n")
    assert messages(path) == [
        'opensmsc.toml:3: smpp.server.windw: unknown key; did you mean "window"?'
    ]


def test_unknown_key_lists_the_known_ones(write) -> None:  # type: ignore[no-untyped-def]
    path = write("[node]\ncolour = 3\n")
    assert messages(path) == [
        "opensmsc.toml:2: node.colour: unknown key; expected one of: name, data_dir, drain_timeout"
    ]


def test_unknown_section_is_an_error(write) -> None:  # type: ignore[no-untyped-def]
    path = write('[node]\nname = "a"\n\n[mail]\nport = 25\n')
    assert messages(path) == [
        "opensmsc.toml:4: mail: unknown key; expected one of: node, logging, smpp, accounts, "
        "store, routing, network, http, api, policyd, policy_client, imps, cdr, cluster"
    ]


def test_plaintext_account_password_is_refused_with_the_alternatives(write) -> None:  # type: ignore[no-untyped-def]
    path = write('[[accounts]]\nsystem_id = "a"\npassword = "secret"\n')
    assert messages(path) == [
        "opensmsc.toml:3: accounts[0].password: plaintext passwords are not accepted for "
        "accounts; use password_hash (`opensmsc hash-password`), password_file or password_env"
    ]


def test_account_without_any_password_is_an_error(write) -> None:  # type: ignore[no-untyped-def]
    path = write('[[accounts]]\nsystem_id = "a"\n')
    assert messages(path) == [
        "opensmsc.toml:1: accounts[0].password_hash: missing; "
        "give password_hash, password_file or password_env"
    ]


def test_account_password_hash_must_be_argon2(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        '[[accounts]]\nsystem_id = "a"\npassword_hash = "5f4dcc3b5aa765d61d8327deb882cf99"\n'
    )
    (message,) = messages(path)
    assert message.startswith("opensmsc.toml:3: accounts[0].password_hash: expected an argon2 hash")
    assert message.endswith('got "5f4dcc3b5aa765d61d8327deb882cf99"')


def test_two_password_sources_conflict(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        f"""
        [[accounts]]
        system_id = "a"
        password_hash = "{HASH}"
        password_env = "A_PASSWORD"
        """
    )
    assert messages(path) == [
        "opensmsc.toml:4: accounts[0].password_env: conflicts with password_hash; give only one"
    ]


def test_missing_required_key_points_at_its_table(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        [[smpp.client]]
        name = "a"
        host = "h"
        system_id = "s"

        [[smpp.client]]
        name = "b"
        system_id = "s"
        """
    )
    assert messages(path) == [
        "opensmsc.toml:6: smpp.client[1].host: missing; expected a host name or IP address"
    ]


def test_duplicate_connector_names_are_refused(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        [[smpp.client]]
        name = "a"
        host = "h"
        system_id = "s"

        [[smpp.client]]
        name = "a"
        host = "h2"
        system_id = "s"
        """
    )
    assert messages(path) == [
        'opensmsc.toml:7: smpp.client[1].name: "a" is already used by smpp.client[0]'
    ]


def test_duplicate_account_system_ids_are_refused(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        [[accounts]]
        system_id = "esme"
        password_env = "A"
        [[accounts]]
        system_id = "esme"
        password_env = "B"
        """
    )
    assert messages(path) == [
        'opensmsc.toml:5: accounts[1].system_id: "esme" is already used by accounts[0]'
    ]


def test_cross_field_rules_of_the_server(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "k.pem").write_text(PEM_KEY)
    path = write(
        """
        [smpp.server]
        port = 2775
        tls_port = 2775
        tls_key_file = "k.pem"
        require_client_cert = true
        bind_failure_delay = 5
        bind_failure_max_delay = 1
        """
    )
    assert messages(path) == [
        "opensmsc.toml:3: smpp.server.tls_port: is the same as port (2775)",
        "opensmsc.toml:4: smpp.server.tls_key_file: is set without tls_cert_file",
        "opensmsc.toml:5: smpp.server.require_client_cert: "
        "needs tls_ca_file to verify client certificates",
        "opensmsc.toml:7: smpp.server.bind_failure_max_delay: "
        "expected at least bind_failure_delay (5.0)",
    ]


def test_cross_field_rules_of_a_connector(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        [[smpp.client]]
        name = "a"
        host = "h"
        system_id = "s"
        password = "pw"
        password_env = "PW"
        tls_server_name = "smsc.example"
        reconnect_min_delay = 10
        reconnect_max_delay = 5
        """
    )
    assert messages(path) == [
        "opensmsc.toml:6: smpp.client[0].password_env: conflicts with password; give only one",
        "opensmsc.toml:7: smpp.client[0].tls_server_name: is set but tls is false",
        "opensmsc.toml:9: smpp.client[0].reconnect_max_delay: "
        "expected at least reconnect_min_delay (10.0)",
    ]


def test_connector_password_longer_than_smpp_allows(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        '[[smpp.client]]\nname = "a"\nhost = "h"\nsystem_id = "s"\npassword = "123456789"\n'
    )
    assert messages(path) == [
        "opensmsc.toml:5: smpp.client[0].password: expected a string of at most 8 characters, "
        'got "123456789" (9 characters)'
    ]


def test_every_error_is_reported_in_line_order(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        [logging]
        level = "loud"

        [[smpp.client]]
        name = "a"
        host = "h"
        system_id = "s"

        [[smpp.client]]
        name = "b"
        host = "h"
        system_id = "s"
        window = -3

        [smpp.server]
        port = "x"
        """
    )
    assert messages(path) == [
        'opensmsc.toml:2: logging.level: expected one of "debug", "info", "warning", "error", '
        'got "loud"',
        "opensmsc.toml:13: smpp.client[1].window: expected an integer from 1 to 10000, got -3",
        'opensmsc.toml:16: smpp.server.port: expected a port number from 0 to 65535, got "x"',
    ]


def test_load_raises_the_first_error_and_counts_the_others(write) -> None:  # type: ignore[no-untyped-def]
    path = write("[smpp.server]\nport = -1\nwindow = 0\nresponse_timeout = 0\n")
    with pytest.raises(ConfigError) as caught:
        load(path)
    error = caught.value
    assert (error.path, error.line, error.key) == ("opensmsc.toml", 2, "smpp.server.port")
    assert str(error) == (
        "opensmsc.toml:2: smpp.server.port: expected a port number from 0 to 65535, got -1 "
        "(and 2 more errors: run `opensmsc check-config`)"
    )


def test_load_raises_a_lone_error_unchanged(write) -> None:  # type: ignore[no-untyped-def]
    path = write("[smpp.server]\nport = -1\n")
    with pytest.raises(ConfigError, match=r"got -1$"):
        load(path)


# --- syntax errors and unreadable files ----------------------------------------------------


def test_toml_syntax_error_gives_its_line(write) -> None:  # type: ignore[no-untyped-def]
    path = write('[node]\nname = "a"\nwindow = \n')
    (error,) = check(path)
    assert error.line == 3
    assert str(error) == "opensmsc.toml:3: invalid TOML: invalid value (column 10)"


def test_duplicate_key_is_a_syntax_error(write) -> None:  # type: ignore[no-untyped-def]
    path = write("[smpp.server]\nport = 1\nport = 2\n")
    (error,) = check(path)
    assert str(error).startswith("opensmsc.toml:3: invalid TOML: ")


def test_syntax_error_at_the_end_of_the_file_names_the_last_line(write) -> None:  # type: ignore[no-untyped-def]
    path = write('[node]\nname = "a')
    (error,) = check(path)
    assert error.line == 2
    assert "invalid TOML" in str(error)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    assert [str(error) for error in check(path)] == [
        f"{path}: cannot read the file: No such file or directory"
    ]
    with pytest.raises(ConfigError, match="cannot read the file"):
        load(path)


def test_file_that_is_not_utf8(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.toml").write_bytes(b'[node]\nname = "\xff"\n')
    (error,) = check(tmp_path / "bad.toml")
    assert "cannot read the file" in str(error)


def test_loads_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^inline:1: node.name: "):
        loads('node.name = ""', source="inline")
    assert loads("").smpp.server.port == 2775


# --- where the lines come from -------------------------------------------------------------


def test_dotted_keys_and_inline_tables_have_their_own_lines(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        node.name = ""
        [smpp]
        server.port = -2
        client = [
          { name = "a", host = "h", system_id = "s" },
          { name = "b", host = "h", system_id = "s", window = -3 },
        ]
        """
    )
    assert messages(path) == [
        "opensmsc.toml:1: node.name: expected a name of letters, digits, '.', '_', '-', got \"\"",
        "opensmsc.toml:3: smpp.server.port: expected a port number from 0 to 65535, got -2",
        "opensmsc.toml:6: smpp.client[1].window: expected an integer from 1 to 10000, got -3",
    ]


def test_array_elements_on_their_own_lines(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        [[accounts]]
        system_id = "a"
        password_env = "A"
        allowed_networks = [
            "10.0.0.0/8",   # office
            # "192.168.0.0/16",
            "10.0.0.1/8",   # host bits set
        ]
        """
    )
    assert messages(path) == [
        "opensmsc.toml:7: accounts[0].allowed_networks[1]: "
        'expected a CIDR network such as "10.0.0.0/8", got "10.0.0.1/8"'
    ]


def test_multiline_strings_do_not_confuse_the_locator() -> None:
    text = textwrap.dedent(
        '''
        [node]
        name = """
        [smpp.server]
        port = 1
        """
        data_dir = 'x'   # "not a string [header]"
        [smpp.server]
        "port" = 9
        '''
    ).lstrip("\n")
    lines = Lines(text)
    assert lines.line_of(("node", "data_dir")) == 6
    assert lines.line_of(("smpp", "server", "port")) == 8


def test_nested_arrays_of_tables_follow_the_last_element() -> None:
    text = "[[a]]\nx = 1\n[[a.b]]\ny = 1\n[[a]]\n[[a.b]]\n[[a.b]]\ny = 2\n[a.c]\nz = 3\n"
    lines = Lines(text)
    assert lines.line_of(("a", 0, "b", 0, "y")) == 4
    assert lines.line_of(("a", 1)) == 5
    assert lines.line_of(("a", 1, "b", 1, "y")) == 8
    assert lines.line_of(("a", 1, "c", "z")) == 10


def test_a_key_the_file_lacks_reports_its_table_or_no_line() -> None:
    lines = Lines("[smpp.server]\nport = 1\n")
    assert lines.line_of(("smpp", "server", "window")) == 1
    assert lines.line_of(("accounts", 0)) is None


def test_key_text_quotes_odd_names() -> None:
    assert key_text(("smpp", "client", 1, "window")) == "smpp.client[1].window"
    assert key_text(("node", "my key")) == 'node."my key"'


def test_error_without_a_line_omits_it(write) -> None:  # type: ignore[no-untyped-def]
    error = ConfigError("oops", path="f.toml", key="node.name")
    assert str(error) == "f.toml: node.name: oops"


# --- the generic machinery, for sections still to come ------------------------------------


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True, slots=True, kw_only=True)
class Inner:
    size: PositiveInt = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    mode: Literal["fast", "slow"] = "fast"
    colour: Colour = Colour.RED
    ports: tuple[Port, ...] = ()
    inner: Inner = Inner()
    optional: int | None = None
    either: int | str = 0
    ratio: float = 1.0

    def problems(self) -> list[Problem]:
        if self.mode == "slow" and self.colour is Colour.RED:
            return [Problem(("colour",), "cannot be red when slow")]
        return []


def test_new_sections_need_only_a_dataclass() -> None:
    table = {
        "mode": "slow",
        "colour": "blue",
        "ports": [1, 2],
        "inner": {"size": 3},
        "optional": 4,
        "either": "x",
        "ratio": 2,
    }
    section, problems = build(Section, table, base_dir=Path("/"))
    assert problems == []
    assert section == Section(
        mode="slow",
        colour=Colour.BLUE,
        ports=(1, 2),
        inner=Inner(size=3),
        optional=4,
        either="x",
        ratio=2.0,
    )


def test_generic_machinery_collects_every_problem() -> None:
    table = {"mode": "medium", "ports": [1, 70000, "x"], "inner": {"size": 0}, "either": 1.5}
    section, problems = build(Section, table, base_dir=Path("/"))
    assert section is None
    assert problems == [
        Problem(("mode",), 'expected one of "fast", "slow", got "medium"'),
        Problem(("ports", 1), "expected a port number from 0 to 65535, got 70000"),
        Problem(("ports", 2), 'expected a port number from 0 to 65535, got "x"'),
        Problem(("inner", "size"), "expected a positive integer, got 0"),
        Problem(("either",), "expected an integer or a string, got 1.5"),
    ]


def test_section_rules_run_once_the_fields_are_valid() -> None:
    section, problems = build(Section, {"mode": "slow"}, base_dir=Path("/"))
    assert section is None
    assert problems == [Problem(("colour",), "cannot be red when slow")]


def test_connector_defaults() -> None:
    client = SmppClientConfig(name="a", host="h", system_id="s")
    assert client.bind is ClientBind.TRANSCEIVER
    assert client.interface_version is SmppVersion.V34
    assert client.message_id_format is MessageIdFormat.AUTO
    assert (client.reconnect_min_delay, client.reconnect_max_delay) == (1.0, 60.0)
    assert client.password is None
    assert client.tls is False


def _sections(cls: type) -> list[type]:
    import dataclasses
    import typing

    found = [cls]
    for tp in typing.get_type_hints(cls).values():
        for arg in (tp, *typing.get_args(tp)):
            if dataclasses.is_dataclass(arg) and isinstance(arg, type):
                found.extend(_sections(arg))
    return found


def test_every_key_is_documented() -> None:
    import dataclasses
    import typing

    doc = (EXAMPLE.parents[1] / "docs" / "configuration.md").read_text(encoding="utf-8")
    sections = _sections(Config)
    missing = [
        f"{section.__name__}.{name}"
        for section in sections
        for name, tp in typing.get_type_hints(section).items()
        if name in {f.name for f in dataclasses.fields(section)}
        and not any(arg in sections for arg in (tp, *typing.get_args(tp)))
        and f"`{name}`" not in doc
    ]
    assert len(sections) >= 6
    assert missing == []


def test_connector_outbind_defaults() -> None:
    client = SmppClientConfig(name="a", host="h", system_id="s")
    assert client.outbind_listen is False
    assert (client.outbind_bind_address, client.outbind_port) == ("0.0.0.0", 2775)
    assert (client.outbind_system_id, client.outbind_password) == ("", "")
    listening = SmppClientConfig(
        name="a", host="h", system_id="s", outbind_listen=True, outbind_password="secret"
    )
    assert "secret" not in repr(listening)


def test_connector_outbind_keys_load(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        [[smpp.client]]
        name = "a"
        host = "h"
        system_id = "s"
        outbind_listen = true
        outbind_bind_address = "::"
        outbind_port = 0
        outbind_system_id = "carrier-smsc"
        outbind_password = "12345678"
        """
    )
    (client,) = load(path).smpp.client
    assert client.outbind_listen is True
    assert (client.outbind_bind_address, client.outbind_port) == ("::", 0)
    assert (client.outbind_system_id, client.outbind_password) == ("carrier-smsc", "12345678")


def test_connector_outbind_credentials_need_outbind_listen(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        [[smpp.client]]
        name = "a"
        host = "h"
        system_id = "s"
        outbind_system_id = "smsc"
        outbind_password = "pw"
        """
    )
    assert messages(path) == [
        "opensmsc.toml:5: smpp.client[0].outbind_system_id: is set but outbind_listen is false",
        "opensmsc.toml:6: smpp.client[0].outbind_password: is set but outbind_listen is false",
    ]


def test_connector_outbind_values_are_checked(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        [[smpp.client]]
        name = "a"
        host = "h"
        system_id = "s"
        outbind_listen = true
        outbind_port = 70000
        outbind_system_id = "0123456789abcdef"
        outbind_password = "123456789"
        """
    )
    assert messages(path) == [
        "opensmsc.toml:6: smpp.client[0].outbind_port: expected a port number from 0 to 65535, "
        "got 70000",
        "opensmsc.toml:7: smpp.client[0].outbind_system_id: expected a string of at most 15 "
        'characters, got "0123456789abcdef" (16 characters)',
        "opensmsc.toml:8: smpp.client[0].outbind_password: expected a string of at most 8 "
        'characters, got "123456789" (9 characters)',
    ]


NUMBERS = [
    "+447700900123",
    "447700900123",
    "00447700900123",
    "07700900123",
    "07700 900123",
    "+44 (0)7700 900123",
    "+44 7700-900.123",
    "12025550123",
    "2025550123",
    "+1234",
    "9991234567",
    "0",
    "",
    "  ",
    "x",
    "+44abc",
    "٤٤٧٧٠٠٩٠٠١٢٣",  # Arabic-Indic digits
    "+3906 1234 5678",
    "1234567890123456",
]


@pytest.mark.parametrize("region", [None, "GB", "us"])
@pytest.mark.parametrize("strict", [False, True])
def test_network_numbers_are_read_as_the_node_reads_them(region: str | None, strict: bool) -> None:
    """config/model/numbers.py applies routing.numbering's rules without importing the
    services: both must accept the same numbers, as the same E.164 key."""
    from opensmsc.config.model.numbers import e164_key
    from opensmsc.routing import InvalidNumber, Numbering

    numbering = Numbering(region, strict)
    for text in NUMBERS:
        try:
            expected: object = numbering.normalise(text)
        except InvalidNumber as exc:
            expected = str(exc)
        try:
            got: object = e164_key(text, region.upper() if region else None, strict)
        except ValueError as exc:
            got = str(exc)
        assert got == expected, text


def test_tls_files_must_be_pem(write, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "cert.der").write_bytes(bytes.fromhex("3003020101"))
    (tmp_path / "cert.pem").write_text(PEM_CERT)
    (tmp_path / "key.pem").write_text(PEM_KEY)
    path = write(
        """
        [smpp.server]
        tls_cert_file = "cert.der"
        tls_ca_file = "key.pem"
        [[smpp.client]]
        name = "a"
        host = "h"
        system_id = "s"
        tls = true
        tls_cert_file = "cert.pem"
        tls_key_file = "cert.pem"
        """
    )
    der, ca, client_key = (tmp_path / name for name in ("cert.der", "key.pem", "cert.pem"))
    x509 = "(-----BEGIN CERTIFICATE-----); a DER file converts with `openssl x509 -inform der"
    assert messages(path) == [
        f"opensmsc.toml:2: smpp.server.tls_cert_file: {der} holds no PEM certificate {x509} "
        "-in FILE`",
        f"opensmsc.toml:3: smpp.server.tls_ca_file: {ca} holds no PEM certificate {x509} -in FILE`",
        f"opensmsc.toml:10: smpp.client[0].tls_key_file: {client_key} holds no PEM private key "
        "(-----BEGIN PRIVATE KEY-----); a DER file converts with `openssl pkey -inform der "
        "-in FILE`",
    ]


def test_without_tls_key_file_the_key_must_be_in_the_certificate_file(
    write, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "cert.pem").write_text(PEM_CERT)
    path = write('[smpp.server]\ntls_cert_file = "cert.pem"\n')
    assert messages(path) == [
        f"opensmsc.toml:2: smpp.server.tls_cert_file: {tmp_path / 'cert.pem'} holds no private "
        "key; give tls_key_file"
    ]


def test_one_pass_reports_cross_key_rules_beside_per_key_errors(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        """
        [smpp.server]
        port = 2775
        tls_port = 2775
        window = 0
        [[smpp.client]]
        name = "carrier"
        host = "smsc.example"
        system_id = "us"
        window = -1
        [routing]
        default_route = "carier"
        [[routing.routes]]
        prefix = "44"
        route = "bad route!"
        [[routing.routes]]
        prefix = "33"
        route = "nowhere"
        [[accounts]]
        system_id = "esme1"
        password_hash = "not a hash"
        [[accounts]]
        system_id = "esme1"
        password_env = "ESME1_PASSWORD"
        window = 0
        """
    )
    expected = '"carrier", "loopback", "network"'
    assert messages(path) == [
        "opensmsc.toml:3: smpp.server.tls_port: is the same as port (2775)",
        "opensmsc.toml:4: smpp.server.window: expected an integer from 1 to 10000, got 0",
        "opensmsc.toml:9: smpp.client[0].window: expected an integer from 1 to 10000, got -1",
        'opensmsc.toml:11: routing.default_route: "carier" is no route; '
        f"expected one of: {expected}",
        "opensmsc.toml:14: routing.routes[0].route: expected a name of letters, digits, '.', '_', "
        "'-', got " + '"bad route!"',
        f'opensmsc.toml:17: routing.routes[1].route: "nowhere" is no route; expected one of: '
        f"{expected}",
        'opensmsc.toml:20: accounts[0].password_hash: expected an argon2 hash such as "$argon2id'
        '$v=19$m=65536,t=3,p=4$..." (make one with `opensmsc hash-password`), got "not a hash"',
        'opensmsc.toml:22: accounts[1].system_id: "esme1" is already used by accounts[0]',
        "opensmsc.toml:24: accounts[1].window: expected an integer from 1 to 10000, got 0",
    ]


def test_a_rule_that_reads_a_misspelt_attribute_is_a_bug_not_a_skipped_rule() -> None:
    from opensmsc.config.rules import Checks

    checks = Checks()
    with pytest.raises(AttributeError), checks.rule():
        Config().nodes  # type: ignore[attr-defined]  # noqa: B018


def test_an_empty_mo_prefix_makes_one_default_mo_account(write) -> None:  # type: ignore[no-untyped-def]
    account = '[[accounts]]\nsystem_id = "{}"\npassword_env = "P"\nmo_prefixes = {}\n'
    path = write(account.format("a", '["", "5000"]') + account.format("b", '["4"]'))
    assert [a.mo_prefixes for a in load(path).accounts] == [("", "5000"), ("4",)]
    path = write(account.format("a", '[""]') + account.format("b", '["x", ""]'))
    assert messages(path) == [
        "opensmsc.toml:8: accounts[1].mo_prefixes[0]: expected a prefix of up to 20 digits "
        '("" for every destination), got "x"',
    ]
    path = write(account.format("a", '[""]') + account.format("b", '["1", ""]'))
    assert messages(path) == [
        'opensmsc.toml:8: accounts[1].mo_prefixes: "" (the default MO account) is already '
        "accounts[0]"
    ]


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[smpp.server]\nwindow = 9223372036854775807",
            "opensmsc.toml:2: smpp.server.window: expected an integer from 1 to 10000, "
            "got 9223372036854775807",
        ),
        (
            '[[smpp.client]]\nname = "a"\nhost = "h"\nsystem_id = "s"\nreceive_window = 100001',
            "opensmsc.toml:5: smpp.client[0].receive_window: expected an integer from 1 to "
            "10000, got 100001",
        ),
        (
            '[[accounts]]\nsystem_id = "a"\npassword_env = "P"\nmax_binds = 5000',
            "opensmsc.toml:4: accounts[0].max_binds: expected an integer from 1 to 1000, got 5000",
        ),
        (
            '[[accounts]]\nsystem_id = "a"\npassword_env = "P"\ndefault_validity = 1e300',
            "opensmsc.toml:4: accounts[0].default_validity: expected a positive number of "
            "seconds, at most 315360000 (ten years), got 1e+300",
        ),
        (
            '[[accounts]]\nsystem_id = "a"\npassword_env = "P"\nthroughput = 1e12',
            "opensmsc.toml:4: accounts[0].throughput: expected messages per second from 0 to "
            "1000000 (0 for no limit), got 1000000000000.0",
        ),
        (
            "[store]\nmax_batch_ops = 10000000",
            "opensmsc.toml:2: store.max_batch_ops: expected an integer from 1 to 100000, "
            "got 10000000",
        ),
        (
            "[network]\nhandset_capacity = 1000000",
            "opensmsc.toml:2: network.handset_capacity: expected an integer from 1 to 10000, "
            "got 1000000",
        ),
    ],
)
def test_numbers_have_sane_bounds(write, toml: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    assert messages(write(toml)) == [expected]


_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
_KEY = "sha256:" + "ab" * 32


def test_api_section_loads_and_is_off_by_default(write) -> None:  # type: ignore[no-untyped-def]
    assert Config().api.enabled is False and Config().api.port == 8080
    path = write(
        f"""
        [api]
        enabled = true
        port = 0
        max_batch = 500
        [[accounts]]
        system_id = "a"
        password_hash = "{_HASH}"
        api_enabled = false
        api_keys = ["{_KEY}"]
        """
    )
    config = load(path)
    assert (config.api.enabled, config.api.port, config.api.max_batch) == (True, 0, 500)
    (account,) = config.accounts
    assert account.api_enabled is False and account.api_keys == (_KEY,)


def test_api_errors_name_their_key(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        f"""
        [api]
        max_batch = 20000
        [[accounts]]
        system_id = "a"
        password_hash = "{_HASH}"
        api_keys = ["plain-key"]
        """
    )
    found = messages(path)
    assert any("api.max_batch: expected 1 to 10000 messages" in m for m in found), found
    assert any("accounts[0].api_keys[0]: expected an API key hash" in m for m in found), found
    assert messages(write("[api]\nidempotency_ttl = 60\n")) == [
        "opensmsc.toml:2: api.idempotency_ttl: expected at least 86400 (24 hours)"
    ]


def test_api_rules_across_keys(write) -> None:  # type: ignore[no-untyped-def]
    path = write(
        f"""
        [[accounts]]
        system_id = "a"
        password_hash = "{_HASH}"
        api_keys = ["{_KEY}"]
        [[accounts]]
        system_id = "b"
        password_hash = "{_HASH}"
        api_keys = ["{_KEY}"]
        """
    )
    found = messages(path)
    assert any('accounts[1].api_keys[0]: is also an API key of account "a"' in m for m in found), (
        found
    )
