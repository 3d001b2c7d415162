"""The composition root: one `Config` in, running services out. The only module that knows
every floor."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import os
import signal
import ssl
from dataclasses import dataclass, field
from datetime import timedelta

from opensmsc.accounts.authenticator import Authenticator
from opensmsc.accounts.model import Account
from opensmsc.accounts.passwords import hash_password
from opensmsc.config import Config
from opensmsc.config.model import AccountConfig, LongMessageReceipts, OverloadAction
from opensmsc.engine.node import EngineSettings, StoreAndForward
from opensmsc.errors import ConfigError
from opensmsc.http.app import create_app
from opensmsc.http.server import HttpServer
from opensmsc.network.mo import P2P_SYSTEM_ID, Submitted
from opensmsc.network.setup import build_hlr
from opensmsc.network.simulator import SimulatedNetwork
from opensmsc.routing.policy import AccountPolicies, AccountPolicy
from opensmsc.routing.portability import np_tlvs_for
from opensmsc.smpp.connection import SessionConfig
from opensmsc.smpp.constants import CommandStatus
from opensmsc.smpp.pdu import SubmitSm
from opensmsc.smpp.states import Role
from opensmsc.smsc.outbind import OutbindDialer, OutbindTarget
from opensmsc.smsc.registry import SessionRegistry
from opensmsc.smsc.session import EsmeSession, SmscServices, SmscSettings
from opensmsc.store.model import Address
from opensmsc.transport import tls
from opensmsc.transport.limits import ConnectionLimits
from opensmsc.transport.protocol import SmppProtocol
from opensmsc.transport.server import Listener, SmppServer
from opensmsc.upstream import ConnectorRoute, MoIngress, UpstreamReceipts
from opensmsc.upstream.pool import Connectors

log = logging.getLogger(__name__)

# With no account configured, `make run` still gives something to bind to: a demo account that
# only loopback clients can use.
DEMO_SYSTEM_ID = "test"
DEMO_PASSWORD = "test"
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(slots=True)
class RunningSmsc:
    """What `start()` returns: the bound ports and the handles to stop."""

    server: SmppServer
    services: SmscServices
    engine: StoreAndForward
    ports: dict[str, int] = field(default_factory=dict)
    tls_fingerprint: str | None = None
    outbind: OutbindDialer | None = None
    connectors: Connectors | None = None
    network: SimulatedNetwork | None = None
    http: HttpServer | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.http is not None:
            await self.http.stop()
        if self.network is not None:
            await self.network.route.drain()  # alerts under way reach the store first
        if self.outbind is not None:
            await self.outbind.close()
        if self.connectors is not None:
            await self.connectors.stop_all()
        await self.server.stop()
        self.services.close()
        # After the sessions: their last answers went out; what is pending stays stored.
        await self.engine.close()


def accounts_from_config(config: Config) -> list[Account]:
    accounts = [_account(a) for a in config.accounts if a.enabled]
    if not config.accounts:
        log.warning(
            "no accounts configured: demo account system_id=%s password=%s, loopback only",
            DEMO_SYSTEM_ID,
            DEMO_PASSWORD,
        )
        accounts.append(
            Account(
                system_id=DEMO_SYSTEM_ID,
                password_hash=hash_password(DEMO_PASSWORD),
                allowed_networks=_LOOPBACK,
                max_binds=100,
            )
        )
    return accounts


def _account(config: AccountConfig) -> Account:
    if config.password_hash is not None:
        password_hash = config.password_hash
    elif config.password_file is not None:
        password_hash = hash_password(config.password_file.read_text().strip("\r\n"))
    else:
        assert config.password_env is not None  # the config model guarantees one of the three
        value = os.environ.get(config.password_env)
        if value is None:
            raise ConfigError(
                f"environment variable {config.password_env} is not set",
                path="<environment>",
                key=f"accounts[{config.system_id}].password_env",
            )
        password_hash = hash_password(value)
    return Account(
        system_id=config.system_id,
        password_hash=password_hash,
        bind_modes=frozenset(config.bind_modes),
        allowed_networks=tuple(config.allowed_networks),
        max_binds=config.max_binds,
        throughput=config.throughput,
        window=config.window,
        cert_subjects=frozenset(config.cert_subjects),
        cert_fingerprints=frozenset(config.cert_fingerprints),
    )


def policies_from_config(config: Config) -> AccountPolicies:
    """The engine's view of each account (validity, receipts, distribution lists)."""
    return AccountPolicies(
        {
            a.system_id: AccountPolicy(
                default_validity=timedelta(seconds=a.default_validity),
                max_validity=timedelta(seconds=a.max_validity),
                whole_message_receipts=a.long_message_receipts is LongMessageReceipts.WHOLE,
                distribution_lists={
                    dl.name: tuple(Address(dl.ton, dl.npi, member) for member in dl.members)
                    for dl in a.distribution_lists
                },
            )
            for a in config.accounts
            if a.enabled
        }
    )


def engine_settings(config: Config) -> EngineSettings:
    store, routing = config.store, config.routing
    return EngineSettings(
        retention=store.retention,
        purge_interval=store.purge_interval,
        lease=store.lease,
        max_batch_ops=store.max_batch_ops,
        max_batch_delay=store.max_batch_delay,
        default_route=routing.default_route,
        prefixes=tuple((r.prefix, r.route) for r in routing.routes),
        # A connector's window bounds what a crash can make it deliver twice upstream.
        route_windows=tuple((c.name, c.window) for c in config.smpp.client),
        delivery_window=config.smpp.server.window,
    )


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


async def start(config: Config) -> RunningSmsc:
    """Start every service the configuration asks for; returns once all listen. The message
    store is opened (created, migrated) in `node.data_dir` first."""
    server_config = config.smpp.server
    loop = asyncio.get_running_loop()
    authenticator = Authenticator(
        accounts_from_config(config),
        clock=loop.time,
        failure_base_delay=server_config.bind_failure_delay or 0.0,
        failure_max_delay=server_config.bind_failure_max_delay or 0.0,
    )
    registry = SessionRegistry()
    policies = policies_from_config(config)
    engine = await StoreAndForward.open(
        config.node.data_dir,
        receivers=registry,
        policies=policies,
        settings=engine_settings(config),
    )
    try:
        running = await _start_services(config, engine, authenticator, registry, policies)
    except BaseException:
        await engine.close()
        raise
    return running


async def _start_services(
    config: Config,
    engine: StoreAndForward,
    authenticator: Authenticator,
    registry: SessionRegistry,
    policies: AccountPolicies,
) -> RunningSmsc:
    server_config = config.smpp.server
    # Each connector is a route ([routing] names them); its callbacks are set below.
    connectors = Connectors()
    for client in config.smpp.client:
        engine.router.add(ConnectorRoute(connectors, client.name, engine.store))
    services = SmscServices(
        authenticator=authenticator,
        registry=registry,
        engine=engine,
        settings=SmscSettings(
            system_id=server_config.system_id,
            overload_action=server_config.overload_action.value,
        ),
    )
    server = SmppServer(
        session_config(config),
        lambda protocol: _esme_session(protocol, services),
        limits=ConnectionLimits(
            max_unbound=server_config.max_unbound_connections,
            max_unbound_per_address=server_config.max_unbound_per_address,
        ),
    )
    running = RunningSmsc(server=server, services=services, engine=engine)
    running.outbind = OutbindDialer(
        server,
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
    engine.deliveries.set_outbind(running.outbind)
    try:
        if server_config.plain_enabled:
            running.ports["smpp"] = await server.start(
                Listener(name="smpp", host=server_config.bind_address, port=server_config.port)
            )
        if server_config.tls_enabled:
            context, fingerprint = _tls_context(config)
            running.tls_fingerprint = fingerprint
            running.ports["smpps"] = await server.start(
                Listener(
                    name="smpps",
                    host=server_config.bind_address,
                    port=server_config.tls_port,
                    ssl_context=context,
                )
            )
    except BaseException:
        await server.stop()
        raise
    receipts = UpstreamReceipts(engine.store, engine.lifecycle, connectors)
    mo = MoIngress(
        engine.store,
        prefixes=[(p, a.system_id) for a in config.accounts if a.enabled for p in a.mo_prefixes],
        sessions=lambda: registry,
        new_id=engine.ids.next,
        wake=engine.scheduler.wake,
        validity=lambda system_id: policies(system_id).default_validity,
    )
    connectors.set_callbacks(on_receipt=receipts.on_receipt, on_mo=mo.on_mo)
    running.connectors = connectors
    running.network = _simulated_network(config, engine, mo)
    # What our portability query found travels upstream in the SMPP 5.0 dest_addr_np_* TLVs.
    portability = running.network.hlr.portability
    if portability is not None:
        np_lookup = np_tlvs_for(portability)
        for client in config.smpp.client:
            route = engine.router.get(client.name)
            if isinstance(route, ConnectorRoute):
                route.np_lookup = np_lookup
    if config.http.enabled:
        running.http = await _start_http(config, running.network)
        if running.http is not None and running.http.port is not None:
            running.ports["http"] = running.http.port
    for client in config.smpp.client:
        await connectors.add(client)
    await connectors.start_all()
    engine.start(a.system_id for a in config.accounts if a.enabled)
    return running


async def _start_http(config: Config, network: SimulatedNetwork) -> HttpServer | None:
    # The admin API is auxiliary: a node whose admin port is taken (another node on the same
    # host, a test run) still carries traffic; the error says why the API is missing.
    http = HttpServer(
        create_app(network=network), host=config.http.bind_address, port=config.http.port
    )
    try:
        await http.start()
    except OSError as exc:
        log.error(
            "HTTP admin API not started address=%s port=%d: %s",
            config.http.bind_address,
            config.http.port,
            exc.strerror or exc,
        )
        return None
    return http


def _simulated_network(config: Config, engine: StoreAndForward, mo: MoIngress) -> SimulatedNetwork:
    """The simulated mobile network (issue 6) as the route named "network": alerts release
    waiting messages through the Scheduler, handsets' MO goes to the accounts by MoIngress or,
    person to person, through the Acceptor as an MT of the pseudo-account "network"."""
    hlr = build_hlr(config.network)
    # By default handsets drop their oldest message when full, as phones do: bulk traffic to
    # one number must not stall on a full inbox. Memory-full behaviour is also set per handset
    # (PATCH /v1/network/handsets/{msisdn}) or with the memory_full state.
    network = SimulatedNetwork(
        hlr.hlr,
        lookup=hlr.lookup,
        sc_address=config.network.sc_address,
        handset_capacity=config.network.handset_capacity,
        delete_old=config.network.handset_delete_old,
    )
    engine.router.add(network.route)

    async def submit_mt(pdu: SubmitSm) -> Submitted:
        answer: asyncio.Future[Submitted] = asyncio.get_running_loop().create_future()
        engine.acceptor.submit(
            P2P_SYSTEM_ID, pdu, lambda mid, status: answer.set_result((mid, status))
        )
        return await answer

    network.connect_engine(
        waiting_for=engine.store.waiting_for,
        release=engine.scheduler.alert_now,
        account_for=mo.account_for,
        deliver_to_account=mo.on_mo,
        submit_mt=submit_mt,
    )
    return network


def _esme_session(protocol: SmppProtocol, services: SmscServices) -> EsmeSession:
    return EsmeSession(protocol, services)


def _tls_context(config: Config) -> tuple[ssl.SSLContext, str]:
    server = config.smpp.server
    if server.tls_cert_file is not None:
        cert = server.tls_cert_file
        key = server.tls_key_file or server.tls_cert_file
        fingerprint = tls.fingerprint(cert.read_bytes())
    else:
        material = tls.ensure_self_signed(config.node.data_dir)
        cert, key, fingerprint = material.cert, material.key, material.fingerprint
        log.info("self-signed TLS certificate path=%s sha256=%s", cert, fingerprint)
    context = tls.server_context(
        cert, key, ca=server.tls_ca_file, require_client_cert=server.require_client_cert
    )
    return context, fingerprint


def tune_gc() -> None:
    """Garbage-collector settings for a long-running SMSC process.

    Every submit_sm allocates a handful of container objects (the PDU, its message record,
    events), so with the default gen0 threshold of 700 the collector runs every ~150 messages
    and, as held messages pile up, its older generations get walked ever more often: about a
    tenth of the CPU per message at tens of thousands of messages a second. Objects made at
    start-up (modules, config, accounts) are frozen out of every collection, and the
    thresholds are raised: reference counting still frees almost everything; the collector
    is only there for cycles.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


async def serve(config: Config) -> None:
    running = await start(config)
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    log.info("opensmsc ready ports=%s", running.ports)
    await stop.wait()
    log.info("stopping: unbinding sessions")
    await running.stop()


def run(config: Config) -> int:
    """Run until SIGINT/SIGTERM. Uses uvloop where it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(config))
    else:
        uvloop.run(serve(config))
    return 0
