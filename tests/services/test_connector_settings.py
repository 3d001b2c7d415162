"""ConnectorSettings, upstream's own copy of a `[[smpp.client]]`, and the one conversion."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from opensmsc.app.connector_settings import settings_from_config
from opensmsc.config.model import ClientBind, SmppClientConfig, SmppVersion
from opensmsc.config.model import MessageIdFormat as ConfigIdFormat
from opensmsc.errors import ConfigError
from opensmsc.routing import MoRouter
from opensmsc.smpp.states import BindMode
from opensmsc.upstream import (
    SMPP_V33,
    ConnectorBind,
    ConnectorSettings,
    MessageIdFormat,
    SmppConnector,
)
from opensmsc.upstream.settings import bind_modes


def test_the_defaults_are_those_of_the_configuration_file() -> None:
    required = {"name": "c", "host": "h", "system_id": "s"}
    assert settings_from_config(SmppClientConfig(**required)) == ConnectorSettings(**required)


def test_every_field_of_the_section_is_carried(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    config = SmppClientConfig(
        name="carrier",
        host="smsc.example",
        port=2776,
        enabled=False,
        tls=True,
        tls_ca_file=cert,
        tls_server_name="name.example",
        tls_verify=False,
        tls_cert_file=cert,
        tls_key_file=cert,
        system_id="gw",
        password_file=cert,
        system_type="VMA",
        bind=ClientBind.PAIR,
        interface_version=SmppVersion.V50,
        address_range="^316",
        addr_ton=1,
        addr_npi=1,
        window=7,
        throughput=12.5,
        enquire_link_interval=9.0,
        response_timeout=8.0,
        reconnect_min_delay=2.0,
        reconnect_max_delay=3.0,
        message_id_format=ConfigIdFormat.HEX,
        receive_window=5,
        outbind_listen=True,
        outbind_bind_address="127.0.0.1",
        outbind_port=0,
        outbind_system_id="smsc",
        outbind_password="pw",
    )
    settings = settings_from_config(config)
    # cluster_binds is the cluster's business (how many nodes run the connector: app/cluster.py),
    # not the connector's.
    cluster_only = {"cluster_binds"}
    assert {f.name for f in dataclasses.fields(settings)} == {
        f.name for f in dataclasses.fields(config)
    } - cluster_only
    mapped = {"bind", "interface_version", "message_id_format"}
    for f in dataclasses.fields(config):
        if f.name not in mapped | cluster_only:
            assert getattr(settings, f.name) == getattr(config, f.name), f.name
    assert settings.bind is ConnectorBind.PAIR
    assert settings.interface_version == 0x50
    assert settings.message_id_format is MessageIdFormat.HEX
    # Every value of the file's enums has its counterpart.
    for bind in ClientBind:
        assert settings_from_config(dataclasses.replace(config, bind=bind)).bind.value == bind.value
    for id_format in ConfigIdFormat:
        converted = settings_from_config(dataclasses.replace(config, message_id_format=id_format))
        assert converted.message_id_format.value == id_format.value


def test_a_pair_binds_two_sessions_and_33_has_no_transceiver() -> None:
    settings = ConnectorSettings(name="c", host="h", system_id="s", bind=ConnectorBind.PAIR)
    assert bind_modes(settings) == (BindMode.TRANSMITTER, BindMode.RECEIVER)
    v33 = dataclasses.replace(settings, bind=ConnectorBind.TRANSCEIVER, interface_version=SMPP_V33)
    with pytest.raises(ConfigError, match="transceiver"):
        bind_modes(v33)


async def test_the_connector_refuses_a_33_transceiver_at_construction() -> None:
    v33 = ConnectorSettings(name="c", host="h", system_id="s", interface_version=SMPP_V33)
    with pytest.raises(ConfigError, match=r"smpp.client\[c\]"):
        SmppConnector(v33)


# -- routing.MoRouter ---------------------------------------------------------------------------


@dataclasses.dataclass
class Session:
    system_id: str
    address_range: str = ""
    can_receive: bool = True


def test_mo_router_longest_prefix_then_a_bound_address_range() -> None:
    router = MoRouter([("12", "short"), ("1234", "long"), ("", "ignored")])
    assert router.account_for("123456", []) == "long"
    assert router.account_for("1299", []) == "short"
    assert router.account_for("5555", []) is None
    sessions = [
        Session("tx-only", "^55", can_receive=False),
        Session("no-range"),
        Session("broken", "[55"),
        Session("ranged", "55[0-9]+$"),
        Session("later", "5"),
    ]
    assert router.account_for("5555", sessions) == "ranged"  # the first that matches
    assert router.account_for("6555", sessions) is None  # matched from the start
    assert router.account_for("1234", sessions) == "long"  # prefixes first
