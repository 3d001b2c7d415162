"""`settings_from_config`: a `[[smpp.client]]` section as the connector's own settings.

Services never see the file model (issue 9): the wiring converts it, once per connector.
"""

from __future__ import annotations

from opensmsc.config import ClientBind, SmppClientConfig
from opensmsc.config import MessageIdFormat as ConfigIdFormat
from opensmsc.upstream import ConnectorBind, ConnectorSettings, MessageIdFormat

__all__ = ["settings_from_config"]

_BINDS = {
    ClientBind.TRANSMITTER: ConnectorBind.TRANSMITTER,
    ClientBind.RECEIVER: ConnectorBind.RECEIVER,
    ClientBind.TRANSCEIVER: ConnectorBind.TRANSCEIVER,
    ClientBind.PAIR: ConnectorBind.PAIR,
}
_ID_FORMATS = {
    ConfigIdFormat.AUTO: MessageIdFormat.AUTO,
    ConfigIdFormat.DEC: MessageIdFormat.DEC,
    ConfigIdFormat.HEX: MessageIdFormat.HEX,
}


def settings_from_config(config: SmppClientConfig) -> ConnectorSettings:
    """The settings of the connector `config` describes (every field, nothing else)."""
    return ConnectorSettings(
        name=config.name,
        host=config.host,
        port=config.port,
        enabled=config.enabled,
        tls=config.tls,
        tls_ca_file=config.tls_ca_file,
        tls_server_name=config.tls_server_name,
        tls_verify=config.tls_verify,
        tls_cert_file=config.tls_cert_file,
        tls_key_file=config.tls_key_file,
        system_id=config.system_id,
        password=config.password,
        password_file=config.password_file,
        password_env=config.password_env,
        system_type=config.system_type,
        bind=_BINDS[config.bind],
        interface_version=config.interface_version.code,
        address_range=config.address_range,
        addr_ton=config.addr_ton,
        addr_npi=config.addr_npi,
        window=config.window,
        throughput=config.throughput,
        enquire_link_interval=config.enquire_link_interval,
        response_timeout=config.response_timeout,
        reconnect_min_delay=config.reconnect_min_delay,
        reconnect_max_delay=config.reconnect_max_delay,
        message_id_format=_ID_FORMATS[config.message_id_format],
        receive_window=config.receive_window,
        outbind_listen=config.outbind_listen,
        outbind_bind_address=config.outbind_bind_address,
        outbind_port=config.outbind_port,
        outbind_system_id=config.outbind_system_id,
        outbind_password=config.outbind_password,
    )
