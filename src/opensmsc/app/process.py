"""The node as a process: `run(config)` serves until SIGINT/SIGTERM, under uvloop where it is
installed, with the garbage collector tuned for a long-running SMSC.

Signals: SIGTERM and SIGINT stop the node gracefully within `[node] drain_timeout`
(RunningSmsc.drain: new binds refused, new submits answered ESME_RTHROTTLED, what is in flight
answered, sessions unbound, connectors unbound upstream, the store closed); SIGHUP reads the
configuration file again, puts the live changes on top (app/live_config.py) and applies what
can change while running (app/reload.py), or logs why it cannot, and reloads the routing
policy.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable
from pathlib import Path

from opensmsc.app.node import start
from opensmsc.app.reload import ConfigReader
from opensmsc.config import Config, LoggingConfig

__all__ = ["run", "serve", "tune_gc"]

log = logging.getLogger(__name__)


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


async def serve(
    config: Config,
    *,
    read: ConfigReader | None = None,
    apply_logging: Callable[[LoggingConfig], None] | None = None,
    config_dir: Path | None = None,
) -> None:
    """Run the node until SIGINT/SIGTERM. `read` reads the configuration file again for SIGHUP
    and `opensmsc reload` (None: the node runs on the embedded defaults, there is nothing to
    reload); `config_dir` is that file's folder."""
    running = await start(config, read=read, apply_logging=apply_logging, config_dir=config_dir)
    tune_gc()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    live = running.live
    reloads: set[asyncio.Task[object]] = set()

    def on_sighup() -> None:
        log.info("SIGHUP: reloading the configuration")
        if read is None or live is None:
            log.warning("SIGHUP ignored: the node runs without a configuration file to reload")
            return
        task: asyncio.Task[object] = loop.create_task(live.reload())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    with contextlib.suppress(NotImplementedError, AttributeError):  # no SIGHUP on Windows
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
    log.info("opensmsc ready ports=%s", running.ports)
    await stop.wait()
    bound = config.node.drain_timeout
    log.info("stopping: draining within %.1f s (new submits answered ESME_RTHROTTLED)", bound)
    for task in reloads:
        task.cancel()
    started = loop.time()
    await running.drain(bound)
    log.info("stopped in %.1f s", loop.time() - started)


def run(
    config: Config,
    *,
    read: ConfigReader | None = None,
    apply_logging: Callable[[LoggingConfig], None] | None = None,
    config_dir: Path | None = None,
) -> int:
    """Run until SIGINT/SIGTERM (see `serve`). Uses uvloop where it is installed."""
    main = serve(config, read=read, apply_logging=apply_logging, config_dir=config_dir)
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)
    return 0
