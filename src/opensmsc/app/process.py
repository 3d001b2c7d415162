"""The node as a process: `run(config)` serves until SIGINT/SIGTERM, under uvloop where it is
installed, with the garbage collector tuned for a long-running SMSC."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal

from opensmsc.app.node import start
from opensmsc.config import Config

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
