"""The ESME-facing side: `[smpp.server]` → the listeners (plain and TLS), the sessions on them,
and outbind to accounts that listen for it.

The engine asks for outbinds (its deliveries wait for an account with no receiver bound) but is
built before the dialer can be: the dialer needs the SMPP server, the server the sessions, the
sessions the engine. So the engine is given an `OutbindLink` at construction, and `SmscService`
connects its dialer to the link when it is built, before anything starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import ssl
from dataclasses import dataclass, field

from opensmsc.accounts import Authenticator
from opensmsc.app.failures import address, os_reason
from opensmsc.config import Config, OverloadAction
from opensmsc.engine import StoreAndForward
from opensmsc.errors import StartupError
from opensmsc.smpp import CommandStatus, Role, SessionConfig
from opensmsc.smsc import (
    ClusterBinds,
    EsmeSession,
    OutbindDialer,
    OutbindTarget,
    SessionRegistry,
    SmscServices,
    SmscSettings,
)
from opensmsc.transport import (
    ConnectionLimits,
    Listener,
    SmppProtocol,
    SmppServer,
    ensure_self_signed,
    server_context,
)
from opensmsc.transport import fingerprint as cert_fingerprint

__all__ = ["ListenerChanges", "OutbindLink", "SmscService", "session_config"]

log = logging.getLogger(__name__)


def session_config(config: Config) -> SessionConfig:
    server = config.smpp.server
    versions = [v.code for v in server.interface_versions] or [0x34]
    return SessionConfig(
        role=Role.SMSC,
        window=server.window,
        peer_window=max((a.window for a in config.accounts), default=10),
        throttle_status=(
            CommandStatus.ESME_RMSGQFUL
            if server.overload_action is OverloadAction.QUEUE_FULL
            else CommandStatus.ESME_RTHROTTLED
        ),
        interface_version=max(versions),
        strict=server.strict,
        max_command_length=server.max_pdu_length,
        session_init_timeout=server.session_init_timeout,
        enquire_link_interval=server.enquire_link_interval,
        inactivity_timeout=server.inactivity_timeout,
        response_timeout=server.response_timeout,
        drain_timeout=server.unbind_drain_timeout or 0.0,
    )


class OutbindLink:
    """The engine's `OutbindRequester`, connected to the dialer once it exists (module doc).
    A request before that (there is none: the engine starts working last) is dropped."""

    def __init__(self) -> None:
        self._dialer: OutbindDialer | None = None

    def connect(self, dialer: OutbindDialer) -> None:
        if self._dialer is not None:
            raise RuntimeError("the outbind link is already connected")
        self._dialer = dialer

    def request(self, system_id: str) -> None:
        if self._dialer is not None:
            self._dialer.request(system_id)


@dataclass(frozen=True, slots=True)
class _ListenerSpec:
    """What a listener is: a change of any of it reopens the listener."""

    host: str
    port: int
    tls: bool
    tls_files: tuple[object, ...] = ()


def _listener_specs(config: Config) -> dict[str, _ListenerSpec]:
    server = config.smpp.server
    specs: dict[str, _ListenerSpec] = {}
    if server.plain_enabled:
        specs["smpp"] = _ListenerSpec(server.bind_address, server.port, tls=False)
    if server.tls_enabled:
        files = (
            server.tls_cert_file,
            server.tls_key_file,
            server.tls_ca_file,
            server.require_client_cert,
        )
        specs["smpps"] = _ListenerSpec(server.bind_address, server.tls_port, True, files)
    return specs


def tls_material(config: Config) -> str:
    """A digest of the TLS files' contents: a certificate renewed in place (same file names, as
    certbot and most PKI tooling do) reopens the TLS listener at the next reload, which a
    comparison of the configuration's keys alone would miss."""
    server = config.smpp.server
    digest = hashlib.sha256()
    for path in (server.tls_cert_file, server.tls_key_file, server.tls_ca_file):
        try:
            digest.update(b"-" if path is None else path.read_bytes())
        except OSError:
            digest.update(b"?")  # unreadable: opening the listener says why
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(slots=True)
class ListenerChanges:
    """Listeners a reload opened (not serving yet) and the names it closes; `commit` or
    `abandon` them (SmscService)."""

    opened: list[tuple[Listener, asyncio.Server]] = field(default_factory=list)
    closing: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    tls_material: str | None = None  # of the TLS listener opened

    @property
    def names(self) -> list[str]:
        return sorted({*(listener.name for listener, _ in self.opened), *self.closing})


class SmscService:
    """The SMPP listeners, their sessions and the outbind dialer. `ports` and
    `tls_fingerprint` are known once started."""

    name = "smpp listeners"

    def __init__(
        self,
        config: Config,
        *,
        engine: StoreAndForward,
        authenticator: Authenticator,
        registry: SessionRegistry,
        outbind: OutbindLink,
        cluster_binds: ClusterBinds | None = None,
    ) -> None:
        self._config = config
        server_config = config.smpp.server
        self.services = SmscServices(
            authenticator=authenticator,
            registry=registry,
            engine=engine,
            cluster_binds=cluster_binds,
            settings=SmscSettings(
                system_id=server_config.system_id,
                overload_action=server_config.overload_action.value,
            ),
        )
        self.server = SmppServer(
            session_config(config),
            self._session,
            limits=ConnectionLimits(
                max_unbound=server_config.max_unbound_connections,
                max_unbound_per_address=server_config.max_unbound_per_address,
            ),
        )
        self.outbind = OutbindDialer(
            self.server,
            [
                OutbindTarget(
                    system_id=a.system_id,
                    host=a.outbind_host,
                    port=a.outbind_port,
                    password=a.outbind_password,
                )
                for a in config.accounts
                if a.enabled and a.outbind_host
            ],
            smsc_system_id=server_config.system_id,
        )
        outbind.connect(self.outbind)
        self.ports: dict[str, int] = {}
        self.tls_fingerprint: str | None = None
        self._tls_material: str | None = None  # what the TLS listener serves (tls_material)

    def _session(self, protocol: SmppProtocol) -> EsmeSession:
        return EsmeSession(protocol, self.services)

    async def start(self) -> None:
        server = self._config.smpp.server
        try:
            if server.plain_enabled:
                self.ports["smpp"] = await self._listen(
                    Listener(name="smpp", host=server.bind_address, port=server.port)
                )
            if server.tls_enabled:
                self._tls_material = tls_material(self._config)
                context, self.tls_fingerprint = self._tls_context()
                self.ports["smpps"] = await self._listen(
                    Listener(
                        name="smpps",
                        host=server.bind_address,
                        port=server.tls_port,
                        ssl_context=context,
                    )
                )
        except BaseException:
            await self.server.stop()
            raise

    async def _listen(self, listener: Listener) -> int:
        return self.server.install(listener, await self._open(listener))

    # ---- reloads --------------------------------------------------------------------------------

    async def open_listeners(self, old: Config, new: Config) -> ListenerChanges:
        """Open the listeners `new` adds or changes, serving nothing yet; on the same port as
        before, the old one is closed first and opened again if the new one fails. Raises
        StartupError (the reason, the address) having changed nothing."""
        before, after = _listener_specs(old), _listener_specs(new)
        changes = ListenerChanges()
        changes.closing = [name for name in before if name not in after]
        try:
            for name, spec in after.items():
                renewed = spec.tls and tls_material(new) != self._tls_material
                if before.get(name) == spec and not renewed:
                    continue
                context = None
                if spec.tls:
                    if renewed:
                        log.info("TLS files changed listener=%s: reopened with them", name)
                    changes.tls_material = tls_material(new)
                    try:
                        context, changes.fingerprint = self._tls_context(new)
                    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                        raise StartupError(f"listener {name}: TLS: {exc}") from exc
                listener = Listener(name=name, host=spec.host, port=spec.port, ssl_context=context)
                previous = before.get(name)
                if previous is not None and spec.port != 0 and previous.port == spec.port:
                    # The port is taken by the listener it replaces: closed for the moment.
                    self.server.close(name)
                    try:
                        server = await self._open(listener)
                    except StartupError:
                        await self._reopen(name, old)
                        raise
                else:
                    server = await self._open(listener)
                changes.opened.append((listener, server))
        except BaseException:
            self.abandon(changes)
            raise
        return changes

    async def _open(self, listener: Listener) -> asyncio.Server:
        try:
            return await self.server.open(listener)
        except OSError as exc:
            raise StartupError(
                f"listener {listener.name} cannot listen on "
                f"{address(listener.host, listener.port)}: {os_reason(exc)}"
            ) from exc

    async def _reopen(self, name: str, config: Config) -> None:
        spec = _listener_specs(config)[name]
        context = self._tls_context(config)[0] if spec.tls else None
        listener = Listener(name=name, host=spec.host, port=spec.port, ssl_context=context)
        try:
            self.ports[name] = self.server.install(listener, await self.server.open(listener))
        except OSError as exc:
            log.error("listener %s not reopened: %s", name, os_reason(exc))
            self.ports.pop(name, None)

    def abandon(self, changes: ListenerChanges) -> None:
        """Close what `open_listeners` opened; the listeners in service stay as they were."""
        for _, server in changes.opened:
            server.close()
        changes.opened.clear()

    def commit(self, changes: ListenerChanges, new: Config) -> None:
        """Serve the listeners opened, close the ones `new` removes (sessions that came through
        them stay bound), and take `new`'s session settings for connections from now on."""
        for listener, server in changes.opened:
            self.ports[listener.name] = self.server.install(listener, server)
            if listener.ssl_context is not None:
                self.tls_fingerprint = changes.fingerprint
                self._tls_material = changes.tls_material
        for name in changes.closing:
            self.server.close(name)
            self.ports.pop(name, None)
        self._config = new
        server_config = new.smpp.server
        self.server.set_session_config(session_config(new))
        self.services.settings = SmscSettings(
            system_id=server_config.system_id,
            overload_action=server_config.overload_action.value,
        )

    def unbind_account(self, system_id: str) -> int:
        """Unbind every session of `system_id` (an account removed or disabled); returns how
        many. Its stored messages stay."""
        count = 0
        for protocol in self.server.sessions:
            handler = protocol.handler
            if (
                isinstance(handler, EsmeSession)
                and handler.system_id == system_id
                and protocol.connection.state.is_bound
            ):
                protocol.unbind()
                count += 1
        return count

    def begin_drain(self) -> None:
        """SIGTERM's first step: no new connection or bind, and every bound session answers
        new submits with ESME_RTHROTTLED (EsmeSession.drain) while what it accepted before is
        still answered."""
        self.services.draining = True
        self.server.stop_accepting()
        for target in self.services.registry:
            if isinstance(target, EsmeSession):
                target.drain()

    async def settled(self, deadline: float) -> bool:
        """Wait, until the loop time `deadline`, for every request the ESMEs sent to be
        answered (submits answer once their message is committed); whether they all were."""
        loop = asyncio.get_running_loop()
        acceptor = self.services.engine.acceptor
        while True:
            owed = acceptor.pending + sum(
                protocol.connection.peer_in_flight for protocol in self.server.sessions
            )
            if owed == 0:
                return True
            if loop.time() >= deadline:
                log.warning("drain: %d requests still unanswered at the drain bound", owed)
                return False
            await asyncio.sleep(0.02)

    async def unbind_sessions(self, timeout: float) -> None:
        """Unbind every session, wait up to `timeout` seconds for the ESMEs' unbind_resp,
        then cut what is left (`stop()` finds nothing more to do)."""
        self.services.stopping = True
        await self.server.stop(drain_timeout=timeout)

    async def stop(self) -> None:
        self.services.stopping = True
        await self.outbind.close()
        await self.server.stop()
        self.services.close()  # the password verifier's threads

    def _tls_context(self, config: Config | None = None) -> tuple[ssl.SSLContext, str]:
        config = config or self._config
        server = config.smpp.server
        if server.tls_cert_file is not None:
            cert = server.tls_cert_file
            key = server.tls_key_file or server.tls_cert_file
            try:
                fingerprint = cert_fingerprint(cert.read_bytes())
            except (OSError, ValueError) as exc:
                raise StartupError(
                    f"smpp.server.tls_cert_file {cert}: not a usable certificate: {exc}"
                ) from exc
        else:
            try:
                material = ensure_self_signed(config.node.data_dir)
            except OSError as exc:
                raise StartupError(
                    "the self-signed TLS certificate cannot be written in "
                    f"{config.node.data_dir / 'tls'}: {os_reason(exc)}"
                ) from exc
            cert, key, fingerprint = material.cert, material.key, material.fingerprint
            log.info("self-signed TLS certificate path=%s sha256=%s", cert, fingerprint)
        context = server_context(
            cert, key, ca=server.tls_ca_file, require_client_cert=server.require_client_cert
        )
        return context, fingerprint
