"""The SMSC under test, in a process of its own: `app.start()` on 127.0.0.1, an ephemeral port.

Started by bench/smpp.py; prints `READY <port>` once listening and runs until SIGTERM/SIGINT.
One account (test/test, from the environment as a real deployment would give it) with a window
large enough for the benchmark's W=100 and room for 10,000 binds.

    python bench/smsc_server.py [--uvloop] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from opensmsc import app
from opensmsc.config import (
    AccountConfig,
    Config,
    NodeConfig,
    SmppConfig,
    SmppServerConfig,
)
from opensmsc.smpp.states import BindMode

PASSWORD_ENV = "OPENSMSC_BENCH_PASSWORD"


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def bench_config(data_dir: Path) -> Config:
    return Config(
        node=NodeConfig(data_dir=data_dir),
        smpp=SmppConfig(
            server=SmppServerConfig(
                bind_address="127.0.0.1",
                port=0,
                tls_enabled=False,
                # The idle-session test connects 200 at a time from one address.
                max_unbound_per_address=1000,
            )
        ),
        accounts=(
            AccountConfig(
                system_id="test",
                password_env=PASSWORD_ENV,
                window=1000,
                max_binds=20_000,
            ),
        ),
    )


async def serve() -> None:
    os.environ.setdefault(PASSWORD_ENV, "test")
    loop = asyncio.get_running_loop()
    with tempfile.TemporaryDirectory(prefix="opensmsc-bench-") as tmp:
        running = await app.start(bench_config(Path(tmp)))
        # Run argon2 once now, so no measured bind pays for it (the verified-password cache).
        auth = running.services.authenticator
        decision = auth.check_bind(
            "test", os.environ[PASSWORD_ENV], BindMode.TRANSCEIVER, "127.0.0.1", None
        )
        if decision.is_accepted:
            auth.bind_closed("test")
        stop = loop.create_future()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: stop.done() or stop.set_result(None))
        app.tune_gc()  # as app.serve() does
        print(f"READY {running.ports['smpp']}", flush=True)
        await stop
        await running.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the whole run to this file")
    args = parser.parse_args()
    raise_nofile()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.uvloop:
        import uvloop

        uvloop.install()
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        try:
            asyncio.run(serve())
        finally:
            profiler.disable()
            profiler.dump_stats(args.profile)
    else:
        asyncio.run(serve())


if __name__ == "__main__":
    main()
