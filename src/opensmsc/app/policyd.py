"""The policy server (`[policyd]`, TCP 3055): the node's routing decisions served to other
systems, from the same Router (and so the same routes and connectors) its scheduler uses.

Like the admin API it is auxiliary: a node whose port 3055 is taken (another node on the same
host) still carries its own traffic; the error says why the policy server is missing.

With `tls_enabled` both listeners speak TLS with the SMPP listener's certificate options:
`tls_cert_file` (and `tls_key_file`), else the node's self-signed certificate in data_dir/tls
(the same one SMPP 3550 uses; its SHA-256 fingerprint is logged for clients to pin), and
client certificates checked against `tls_ca_file` (required with `require_client_cert`). A
certificate that cannot be loaded stops the start: a server meant to be protected must not
start open.
"""

from __future__ import annotations

import logging
import os
import ssl
from pathlib import Path

from opensmsc.app.failures import os_reason
from opensmsc.config import ConfigError, PolicydConfig
from opensmsc.errors import StartupError
from opensmsc.http import HttpServer
from opensmsc.policyd import Dispatcher, JsonRpcHttp, PolicyServer, ServerLimits
from opensmsc.routing import PolicyEngine
from opensmsc.transport import ensure_self_signed, fingerprint, server_context

__all__ = ["PolicydService"]

log = logging.getLogger(__name__)


class PolicydService:
    """`port` is the bound port once started, None when the server could not listen;
    `http_port` likewise for POST /jsonrpc, None also when not configured."""

    name = "policy server"

    def __init__(
        self,
        config: PolicydConfig,
        *,
        engine: PolicyEngine,
        node: str,
        data_dir: Path | None = None,
    ) -> None:
        self._config = config
        token = _token(config)
        dispatcher = Dispatcher(engine, node=node, token=token)
        self._ssl: ssl.SSLContext | None = None
        self.tls_fingerprint: str | None = None
        cert: Path | None = None
        key: Path | None = None
        if config.tls_enabled:
            cert, key, self.tls_fingerprint = _certificate(config, data_dir)
            self._ssl = server_context(
                cert, key, ca=config.tls_ca_file, require_client_cert=config.require_client_cert
            )
        self._http = (
            None
            if config.http_port is None
            else HttpServer(
                JsonRpcHttp(dispatcher, token=token, max_frame=config.max_frame),
                host=config.bind_address,
                port=config.http_port,
                name="policy server HTTP",
                certfile=cert,
                keyfile=key,
                ca_file=config.tls_ca_file if config.tls_enabled else None,
                require_client_cert=config.tls_enabled and config.require_client_cert,
            )
        )
        self.http_port: int | None = None
        self._server = PolicyServer(
            dispatcher,
            ServerLimits(
                max_connections=config.max_connections,
                max_frame=config.max_frame,
                idle_timeout=config.idle_timeout,
            ),
        )
        self.port: int | None = None

    @property
    def server(self) -> PolicyServer:
        return self._server

    @property
    def serving(self) -> bool:
        """Whether the TCP listener accepts connections (the readiness check)."""
        return self._server.serving

    @property
    def http_serving(self) -> bool | None:
        """Whether POST /jsonrpc is served; None when it is not configured."""
        return None if self._http is None else self._http.serving

    async def start(self) -> None:
        try:
            self.port = await self._server.start(
                self._config.bind_address, self._config.port, ssl_context=self._ssl
            )
        except OSError as exc:
            log.error(
                "policy server not started address=%s port=%d: %s",
                self._config.bind_address,
                self._config.port,
                exc.strerror or exc,
            )
        if self._http is not None:
            try:
                self.http_port = await self._http.start()
            except OSError as exc:
                log.error(
                    "policy server HTTP not started address=%s port=%s: %s",
                    self._config.bind_address,
                    self._config.http_port,
                    exc.strerror or exc,
                )

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.stop()
        await self._server.stop()


def _token(config: PolicydConfig) -> str | None:
    """The shared token hello must carry, if any. Raises ConfigError for a token_env that is
    not set: a server meant to be protected must not start open."""
    if config.token_env is None:
        return config.token
    value = os.environ.get(config.token_env)
    if not value:
        raise ConfigError(
            f"environment variable {config.token_env} is not set",
            path="<environment>",
            key="policyd.token_env",
        )
    return value


def _certificate(config: PolicydConfig, data_dir: Path | None) -> tuple[Path, Path, str]:
    """(certificate, key, SHA-256 fingerprint) of the TLS listeners. Raises StartupError."""
    if config.tls_cert_file is not None:
        cert = config.tls_cert_file
        try:
            return cert, config.tls_key_file or cert, fingerprint(cert.read_bytes())
        except (OSError, ValueError) as exc:
            raise StartupError(
                f"policyd.tls_cert_file {cert}: not a usable certificate: {exc}"
            ) from exc
    if data_dir is None:
        raise StartupError("policyd.tls_enabled without tls_cert_file needs the data folder")
    try:
        material = ensure_self_signed(data_dir)
    except OSError as exc:
        raise StartupError(
            f"the self-signed TLS certificate cannot be written in {data_dir / 'tls'}: "
            f"{os_reason(exc)}"
        ) from exc
    log.info("policy server self-signed certificate sha256=%s", material.fingerprint)
    return material.cert, material.key, material.fingerprint
