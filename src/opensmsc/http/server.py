"""The HTTP admin listener: an ASGI app served by uvicorn inside the node's event loop.

What this is for: the app (app/admin.py, app/api.py) starts one `HttpServer` per listener, next
to the SMPP listeners. We bind the socket ourselves, so a port already in use is an OSError
here (not uvicorn's `sys.exit`), and port 0 gives an ephemeral port that `start()` returns
(tests). uvicorn runs as one more task of the running loop; it must not touch process signals
(the node owns SIGINT/SIGTERM), so its signal capture is switched off.

What it is not: the routes (http/app.py, http/routes/) or their errors (http/problems.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Generator
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

__all__ = ["HttpServer"]

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The node handles SIGINT/SIGTERM and stops us with `HttpServer.stop()`.
        yield


class HttpServer:
    """Serves `app` on `host`:`port` (0: ephemeral) until `stop()`; HTTPS with `certfile`
    (and `keyfile`, else the key is in `certfile`), client certificates checked against
    `ca_file` when given (required with `require_client_cert`). `name` is for the log line."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "HTTP admin",
        certfile: Path | None = None,
        keyfile: Path | None = None,
        ca_file: Path | None = None,
        require_client_cert: bool = False,
    ) -> None:
        self._app = app
        self._ca_file = ca_file
        self._require_client_cert = require_client_cert
        self._host = host
        self._port = port
        self._name = name
        self._certfile = certfile
        self._keyfile = keyfile
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port: int | None = None

    async def start(self) -> int:
        """Bind and start serving; returns the bound port. Raises OSError when the address
        cannot be bound, RuntimeError when uvicorn fails to start."""
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self._host, self._port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            http="httptools",
            log_config=None,  # the node configured logging already (cli/logsetup.py)
            access_log=False,
            server_header=False,
            # HTTPS when given a certificate (uvicorn builds the context at start).
            ssl_certfile=None if self._certfile is None else str(self._certfile),
            ssl_keyfile=None if self._keyfile is None else str(self._keyfile),
            # With a CA file, client certificates are asked for and checked against it.
            ssl_ca_certs=None if self._ca_file is None else str(self._ca_file),
            ssl_cert_reqs=(
                ssl.CERT_REQUIRED
                if self._require_client_cert
                else ssl.CERT_OPTIONAL
                if self._ca_file is not None
                else ssl.CERT_NONE
            ),
        )
        server = self._server = _Server(config)
        self._task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        while not server.started:
            if self._task.done():
                sock.close()
                error = self._task.exception() if not self._task.cancelled() else None
                raise RuntimeError(f"HTTP server did not start: {error!r}")
            await asyncio.sleep(0.01)
        log.info(
            "%s listening address=%s port=%d tls=%s",
            self._name,
            self._host,
            self.port,
            "on" if self._certfile is not None else "off",
        )
        return self.port

    @property
    def serving(self) -> bool:
        """Whether it accepts requests: started, not stopping, its task alive (readiness)."""
        server, task = self._server, self._task
        return (
            server is not None
            and server.started
            and not server.should_exit
            and task is not None
            and not task.done()
        )

    async def stop(self) -> None:
        """Stop accepting, finish the requests under way, close."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._server = None
        self._task = None
