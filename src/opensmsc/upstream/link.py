"""A connector's sessions: connect, bind, reconnect with back-off, and outbind (issue 4, 9).

What this is for: `Links` keeps each of a connector's session slots bound (one, or a
transmitter and a receiver), with jittered exponential back-off between attempts, and adopts
the sessions the upstream opens by outbind (`outbind.OutbindListener` accepts them; we bind on
them as receiver, or transceiver in 5.0; they never carry submits). At stop it unbinds them all.

What it is not: a session's own event handling (session.py), the socket (`transport.client`),
the submit queue (submit_queue.py) or the receipts (incoming.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import random
import ssl
from collections.abc import Callable

from opensmsc.logtext import peer_text
from opensmsc.smpp import BindMode
from opensmsc.transport import ConnectionLost, SmppProtocol, client_context, connect
from opensmsc.upstream.model import ConnectorOptions, LinkState, SessionStatus, reconnect_delay
from opensmsc.upstream.outbind import OutbindListener
from opensmsc.upstream.session import Link, SessionEvents, UpstreamSession
from opensmsc.upstream.settings import (
    ConnectorSettings,
    bind_modes,
    bind_request,
    connector_session_config,
    resolve_password,
)

__all__ = ["Links"]

log = logging.getLogger(__name__)


class _OpenFailedError(Exception):
    """A connect or bind attempt failed; the message says why (for status and logs)."""


class Links:
    """The session slots of one connector, kept bound while it runs (module doc).

    Raises ConfigError at construction for a bind the interface_version cannot do, and from
    `start()` when the password, the TLS files or the outbind port cannot be had.
    """

    def __init__(
        self,
        settings: ConnectorSettings,
        options: ConnectorOptions,
        handler: SessionEvents,
        *,
        rng: random.Random,
        now: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.now = now
        self.links = [Link(mode) for mode in bind_modes(settings)]
        self.sessions: set[UpstreamSession] = set()  # open connections, outbind ones included
        self._options = options
        self._rng = rng
        self._session_config = connector_session_config(
            settings,
            drain_timeout=options.drain_timeout,
            max_consecutive_timeouts=options.max_consecutive_timeouts,
        )
        self._outbind: OutbindListener | None = None
        self._outbinds_refused = 0  # by listeners of earlier runs
        self._password = ""
        self._ssl_context: ssl.SSLContext | None = None
        self._numbers = itertools.count(1)
        self._running = False
        self._stopping = False

    # -- reads --------------------------------------------------------------------------------

    @property
    def sends(self) -> bool:
        """Whether any slot may carry submits (not a receiver only)."""
        return any(link.sends for link in self.links)

    @property
    def starting(self) -> bool:
        """A start is under way or done (the outbind listener may still await its port)."""
        return self._running or self._outbind is not None

    @property
    def bound(self) -> int:
        return sum(1 for link in self.links if link.state is LinkState.BOUND)

    @property
    def outbind_port(self) -> int | None:
        return self._outbind.port if self._outbind is not None else None

    @property
    def outbinds_refused(self) -> int:
        outbind = self._outbind
        return self._outbinds_refused + (outbind.refused if outbind is not None else 0)

    def sending_session(self) -> UpstreamSession | None:
        """A bound session of ours with a free window slot, or None."""
        for link in self.links:
            session = link.session
            if link.sends and session is not None and session.can_send:
                return session
        return None

    def statuses(self, in_flight: Callable[[UpstreamSession], int]) -> tuple[SessionStatus, ...]:
        return tuple(
            SessionStatus(
                mode=link.mode,
                state=link.state,
                session_id=link.session.session_id if link.session else None,
                peer_system_id=link.session.peer_system_id if link.session else None,
                in_flight=in_flight(link.session) if link.session else 0,
                connects=link.connects,
                binds=link.binds,
                last_error=link.last_error,
            )
            for link in self.links
        )

    def outbind_statuses(self) -> tuple[SessionStatus, ...]:
        return tuple(
            SessionStatus(
                mode=s.link.mode,
                state=s.link.state,
                session_id=s.session_id,
                peer_system_id=s.peer_system_id,
                in_flight=0,  # submits never go over an outbind session
                connects=1,
                binds=s.link.binds,
                last_error=s.link.last_error,
            )
            for s in sorted(self.sessions, key=lambda s: s.session_id)
            if s.link.outbind
        )

    # -- life ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the password and TLS files, listen for outbinds if asked, and start keeping
        every slot bound; returns without waiting for a bind."""
        settings = self.settings
        self._password = resolve_password(settings)
        if settings.tls:
            self._ssl_context = client_context(
                ca=settings.tls_ca_file,
                verify=settings.tls_verify,
                client_cert=settings.tls_cert_file,
                client_key=settings.tls_key_file,
            )
        if settings.outbind_listen:
            listener = OutbindListener(
                settings,
                session_config=dataclasses.replace(
                    self._session_config, session_init_timeout=self._options.outbind_init_timeout
                ),
                adopt=self._adopt_outbind,
            )
            self._outbind = listener
            try:
                await listener.start()  # raises ConfigError when the port cannot be had
            except BaseException:
                self._outbind = None
                raise
        self._running = True
        self._stopping = False
        loop = asyncio.get_running_loop()
        for link in self.links:
            link.state = LinkState.CONNECTING
            link.task = loop.create_task(
                self._run_link(link), name=f"connector-{settings.name}-{link.mode.value}"
            )

    def begin_stop(self) -> None:
        """From now on outbinds are refused; `stop()` follows."""
        self._stopping = True

    async def stop(self) -> None:
        """Unbind every session (in-flight submits are answered first, within the drain
        timeout), close what does not unbind, stop the outbind listener."""
        self._stopping = True
        for session in list(self.sessions):
            protocol = session.protocol
            if protocol is None or protocol.is_closed:
                continue
            conn = protocol.connection
            if conn.state.is_bound and not conn.is_unbinding and not conn.is_terminated:
                session.link.state = LinkState.UNBINDING
                protocol.unbind()
            elif not conn.is_unbinding:
                protocol.close()
        bound = self._options.drain_timeout + 2 * self.settings.response_timeout + 1.0
        waiting = [s.closed for s in self.sessions if not s.closed.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=bound)

        tasks = [link.task for link in self.links if link.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for session in list(self.sessions):
            if session.protocol is not None:
                session.protocol.abort()
        waiting = [s.closed for s in self.sessions if not s.closed.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=1.0)
        if self._outbind is not None:
            # Only now: its sessions were unbound above with the others, in the same drain.
            # Outbinds arriving meanwhile were refused (`_adopt_outbind` sees _stopping).
            await self._outbind.stop()
            self._outbinds_refused += self._outbind.refused
            self._outbind = None
        for link in self.links:
            link.task = None
            link.session = None
            link.state = LinkState.STOPPED
        self._running = False
        self._stopping = False

    # -- our slots ----------------------------------------------------------------------------

    async def _run_link(self, link: Link) -> None:
        """Keep one session bound: connect, bind, wait for its end, back off, again."""
        name = self.settings.name
        failures = 0
        while True:
            link.state = LinkState.CONNECTING
            link.connects += 1
            try:
                session = await self._open(link)
            except _OpenFailedError as exc:
                failures += 1
                link.last_error = str(exc)
                await self._back_off(link, failures)
                continue
            except Exception as exc:
                # The per-task boundary: a bug here must not end the connector's retries.
                log.exception("connect attempt failed connector=%s mode=%s", name, link.mode.value)
                failures += 1
                link.last_error = f"internal error: {exc}"
                await self._back_off(link, failures)
                continue
            failures = 0
            link.binds += 1
            link.last_error = None
            link.session = session
            link.state = LinkState.BOUND
            log.info(
                "bound connector=%s session=%s mode=%s peer_system_id=%s",
                name,
                session.session_id,
                link.mode.value,
                peer_text(session.peer_system_id),
            )
            self.handler.on_session_bound(session)
            await asyncio.shield(session.closed)
            link.session = None
            if self._stopping:
                link.state = LinkState.STOPPED
                return
            reason = session.termination.value if session.termination else "closed"
            link.last_error = f"session ended: {reason}"
            await self._back_off(link, 1)

    async def _open(self, link: Link) -> UpstreamSession:
        settings = self.settings
        session = UpstreamSession(
            self, link, f"{settings.name}-{link.mode.value}-{next(self._numbers)}"
        )
        try:
            await connect(
                settings.host,
                settings.port,
                session_config=self._session_config,
                handler_factory=session.attach,
                session_id=session.session_id,
                ssl_context=self._ssl_context,
                server_hostname=settings.tls_server_name,
                connect_timeout=self._options.connect_timeout,
            )
        except ConnectionLost as exc:
            raise _OpenFailedError(f"connect failed: {exc}") from exc
        # Only now: a failed TLS handshake never reports connection_lost to its protocol.
        if not session.closed.done():
            self.sessions.add(session)
        protocol = session.protocol
        assert protocol is not None  # attach ran in connection setup
        link.state = LinkState.BINDING
        try:
            protocol.send_request(bind_request(settings, link.mode, self._password))
            # The Connection's response timer answers first; this bound is a backstop.
            async with asyncio.timeout(settings.response_timeout + 1.0):
                outcome = await asyncio.shield(session.bind_result)
        except TimeoutError:
            outcome = f"no bind response within {settings.response_timeout:g} s"
        except BaseException:
            protocol.abort()
            raise
        if outcome is None:
            return session
        protocol.close()
        # Let the socket go before the back-off starts, so no transport outlives its session.
        await asyncio.wait([session.closed], timeout=1.0)
        if not session.closed.done():
            protocol.abort()
        raise _OpenFailedError(outcome)

    async def _back_off(self, link: Link, failures: int) -> None:
        settings = self.settings
        delay = reconnect_delay(
            failures, settings.reconnect_min_delay, settings.reconnect_max_delay, self._rng
        )
        link.state = LinkState.BACKING_OFF
        log.warning(
            "connector session down connector=%s mode=%s reason=%s retry_in=%.2fs",
            settings.name,
            link.mode.value,
            link.last_error,
            delay,
        )
        await asyncio.sleep(delay)

    # -- outbind ------------------------------------------------------------------------------

    def _adopt_outbind(self, protocol: SmppProtocol, mode: BindMode) -> UpstreamSession | None:
        """The outbind listener accepted an outbind on `protocol`: bind on it as `mode` with our
        own credentials, then treat it like a session we opened (digest §1.10 step 3). None
        while stopping: the listener then closes the connection."""
        if not self._running or self._stopping:
            return None
        link = Link(mode, outbind=True)
        link.state = LinkState.BINDING
        link.connects = 1
        session = UpstreamSession(self, link, protocol.session_id).attach(protocol)
        self.sessions.add(session)
        protocol.send_request(bind_request(self.settings, mode, self._password))
        session.bind_result.add_done_callback(
            lambda result: self._on_outbind_bind(session, result.result())
        )
        return session

    def _on_outbind_bind(self, session: UpstreamSession, outcome: str | None) -> None:
        link = session.link
        protocol = session.protocol
        if outcome is None and protocol is not None and not protocol.is_closed:
            link.binds = 1
            link.state = LinkState.BOUND
            link.session = session
            log.info(
                "bound by outbind connector=%s session=%s mode=%s peer_system_id=%s",
                self.settings.name,
                session.session_id,
                link.mode.value,
                peer_text(session.peer_system_id),
            )
            return
        link.last_error = outcome
        log.warning(
            "outbind session not bound connector=%s session=%s: %s",
            self.settings.name,
            session.session_id,
            outcome,
        )
        if protocol is not None:
            protocol.close()
