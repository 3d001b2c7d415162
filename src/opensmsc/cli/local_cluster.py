"""`opensmsc cluster local` (`make cluster`): N nodes on this machine as one SMSC, on the local
PostgreSQL and NATS, behind HAProxy on the usual ports: what a newcomer runs to see scale-out.

What this is for (issue 14): the same layout docs/scaling.md describes for production (nodes
that share one PostgreSQL and one NATS, a TCP load balancer in front), small enough for a
laptop. It starts PostgreSQL and NATS if they are down, creates the database, writes one
configuration per node under `--dir` (one TLS certificate for all, so a client pinning it
reaches any node), starts the nodes and HAProxy, and stays in the foreground until Ctrl-C or
SIGTERM, when it stops HAProxy and then each node (SIGTERM: the node drains its sessions).
bench/cluster.py and tests/cluster/ start their clusters through `LocalCluster` too.

Ports: HAProxy listens on `--smpp-port` (2775), `--tls-port` (3550) and `--api-port` (8080);
node i (1-based) on `--node-base` + 10·i + 0 SMPP, 1 TLS SMPP, 2 HTTP API, 3 admin, 4 policy
server. HAProxy checks each node by its admin listener's /ready, so a node that is starting,
draining or dead gets no new sessions, and no health probe opens an SMPP session.

What it is not: a production deployment (one machine is one failure domain; docs/scaling.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from opensmsc.transport import ensure_self_signed

POSTGRES = "postgresql://127.0.0.1:5432/opensmsc"
NATS = "nats://127.0.0.1:4222"
NATS_START = [
    "start-stop-daemon",
    "--start",
    "--oknodo",
    "--background",
    "--exec",
    "/usr/sbin/nats-server",
    "--",
    "-a",
    "127.0.0.1",
    "-p",
    "4222",
    "-js",
    "-sd",
    "/var/lib/nats-server",
]
# Listeners of node i, as offsets from node_base + 10·i.
SMPP, TLS, API, ADMIN, POLICYD = range(5)


@dataclass(frozen=True, slots=True)
class ClusterLayout:
    """Where everything of a local cluster listens and lives."""

    folder: Path
    nodes: int = 3
    postgres: str = POSTGRES
    nats: str = NATS
    name: str = "opensmsc"
    bind_address: str = "127.0.0.1"
    smpp_port: int = 2775
    tls_port: int = 3550
    api_port: int = 8080
    node_base: int = 17000
    extra_config: str = ""  # TOML appended to every node's file (tests, benchmarks)
    smpp_window: int | None = None  # [smpp.server] window (receipts in flight per session)
    # False: no [cluster] section, each node on its own SQLite store: the embedded mode behind
    # the same balancer, for comparison (bench/cluster.py), and no PostgreSQL or NATS needed.
    clustered: bool = True

    def port(self, node: int, listener: int) -> int:
        return self.node_base + 10 * node + listener

    def node_id(self, node: int) -> str:
        return f"node-{node}"

    def admin_url(self, node: int) -> str:
        return f"http://127.0.0.1:{self.port(node, ADMIN)}"


@dataclass
class LocalCluster:
    """The processes of a running local cluster (`start`, `stop`)."""

    layout: ClusterLayout
    nodes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    haproxy: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout: float = 60.0) -> None:
        layout = self.layout
        if layout.clustered:
            ensure_services(layout.postgres, layout.nats)
            ensure_database(layout.postgres)
        write_files(layout)
        try:
            for node in range(1, layout.nodes + 1):
                self.start_node(node)
            for node in range(1, layout.nodes + 1):
                self.wait_ready(node, timeout=timeout)
            self.haproxy = subprocess.Popen(
                ["haproxy", "-db", "-f", str(layout.folder / "haproxy.cfg")],
                stdout=_log(layout.folder / "haproxy.log"),
                stderr=subprocess.STDOUT,
            )
            for port in (layout.smpp_port, layout.tls_port, layout.api_port):
                _wait_port(layout.bind_address, port, timeout, self.haproxy)
        except BaseException:
            self.stop(grace=5.0)  # nothing half-started is left behind
            raise

    def start_node(self, node: int) -> None:
        """Start node `node` (again, after a kill: the same files and data)."""
        folder = self.layout.folder
        self.nodes[node] = subprocess.Popen(
            [sys.executable, "-m", "opensmsc", "run", "--config", str(_config_path(folder, node))],
            stdout=_log(folder / f"node-{node}.log"),
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, node: int, *, timeout: float = 60.0) -> None:
        proc = self.nodes[node]
        deadline = time.monotonic() + timeout
        url = self.layout.admin_url(node) + "/ready"
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"node-{node} exited with {proc.returncode}: see "
                    f"{self.layout.folder / f'node-{node}.log'}"
                )
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(url, timeout=1.0) as answer,
            ):
                if answer.status == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"node-{node} not ready after {timeout:.0f} s")
            time.sleep(0.2)

    def kill(self, node: int) -> None:
        """kill -9 node `node` (a crash, for tests and demonstrations)."""
        proc = self.nodes[node]
        proc.kill()
        proc.wait()

    def stop(self, *, grace: float = 20.0) -> None:
        if self.haproxy is not None:
            _stop(self.haproxy, grace)
        for proc in self.nodes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.nodes.values():
            _stop(proc, grace)


# ---- the files -------------------------------------------------------------------------------


def write_files(layout: ClusterLayout) -> None:
    """Each node's configuration, the shared TLS certificate and haproxy.cfg."""
    layout.folder.mkdir(parents=True, exist_ok=True)
    tls = ensure_self_signed(layout.folder, common_name="opensmsc-cluster")
    for node in range(1, layout.nodes + 1):
        (layout.folder / f"node-{node}").mkdir(exist_ok=True)
        _config_path(layout.folder, node).write_text(
            node_config(layout, node, tls.cert, tls.key), encoding="utf-8"
        )
    (layout.folder / "haproxy.cfg").write_text(haproxy_config(layout), encoding="utf-8")


def node_config(layout: ClusterLayout, node: int, cert: Path, key: Path) -> str:
    port = layout.port
    cluster = (
        f"""
[cluster]
node_id = "{layout.node_id(node)}"
postgres = "{layout.postgres}"
nats = "{layout.nats}"
name = "{layout.name}"
"""
        if layout.clustered
        else ""
    )
    return f"""\
# Written by `opensmsc cluster local`; node {node} of {layout.nodes}.
[node]
name = "{layout.node_id(node)}"
data_dir = "{layout.folder / f"node-{node}"}"

[smpp.server]
bind_address = "127.0.0.1"
port = {port(node, SMPP)}
tls_enabled = true
tls_port = {port(node, TLS)}
tls_cert_file = "{cert}"
tls_key_file = "{key}"
{"" if layout.smpp_window is None else f"window = {layout.smpp_window}"}

[http]
bind_address = "127.0.0.1"
port = {port(node, ADMIN)}

[api]
enabled = true
bind_address = "127.0.0.1"
port = {port(node, API)}

[policyd]
bind_address = "127.0.0.1"
port = {port(node, POLICYD)}
{cluster}
{layout.extra_config}"""


def haproxy_config(layout: ClusterLayout) -> str:
    """TCP passthrough (TLS ends on the nodes); the least busy node takes a new session. SMPP
    sessions live for hours: the tunnel timeout is the nodes' own inactivity timeout's job."""
    out = [
        "# Written by `opensmsc cluster local`.",
        "global",
        f"    maxconn {_max_connections()}",
        "defaults",
        "    mode tcp",
        "    timeout connect 3s",
        "    timeout client 1h",
        "    timeout server 1h",
        "    timeout tunnel 24h",
        "    option httpchk GET /ready",
        "    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions",
    ]
    for label, listener, front in (
        ("smpp", SMPP, layout.smpp_port),
        ("smpp_tls", TLS, layout.tls_port),
        ("api", API, layout.api_port),
    ):
        out += [
            f"frontend {label}",
            f"    bind {layout.bind_address}:{front}",
            f"    default_backend {label}_nodes",
            f"backend {label}_nodes",
            "    balance leastconn",
        ]
        out += [
            f"    server {layout.node_id(node)} 127.0.0.1:{layout.port(node, listener)} "
            f"check port {layout.port(node, ADMIN)}"
            for node in range(1, layout.nodes + 1)
        ]
    return "\n".join(out) + "\n"


def _max_connections() -> int:
    """What HAProxy can hold open here: two descriptors a connection, within the file limit
    it inherits (raised to the hard limit first: an SMSC holds many idle sessions)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    return max(256, min(100_000, (soft - 100) // 2))


def _config_path(folder: Path, node: int) -> Path:
    return folder / f"node-{node}.toml"


# ---- the services ----------------------------------------------------------------------------


def ensure_services(postgres: str, nats: str) -> None:
    """Start the machine's PostgreSQL and NATS (as Debian installs them) when they are local
    and down; a remote one is the operator's to run."""
    pg = urlsplit(postgres)
    if _local(pg.hostname) and not _open(pg.hostname or "127.0.0.1", pg.port or 5432):
        versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
        if not versions:
            raise RuntimeError(f"PostgreSQL is not running at {postgres} and is not installed")
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
            check=True,
        )
        _wait_port(pg.hostname or "127.0.0.1", pg.port or 5432, 30.0)
    bus = urlsplit(nats)
    if _local(bus.hostname) and not _open(bus.hostname or "127.0.0.1", bus.port or 4222):
        if shutil.which("start-stop-daemon") is None or not Path("/usr/sbin/nats-server").exists():
            raise RuntimeError(f"NATS is not running at {nats} and is not installed")
        subprocess.run(NATS_START, check=True)
        _wait_port(bus.hostname or "127.0.0.1", bus.port or 4222, 30.0)


def ensure_database(postgres: str) -> None:
    """CREATE DATABASE for the DSN's database when it is missing (the store makes its schema)."""
    parts = urlsplit(postgres)
    database = parts.path.lstrip("/")
    if not database:
        return
    admin = urlunsplit(parts._replace(path="/postgres"))
    exists = subprocess.run(
        ["psql", admin, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{_quoted(database)}'"],
        check=True,
        capture_output=True,
        text=True,
    )
    if exists.stdout.strip() != "1":
        subprocess.run(
            ["psql", admin, "-qc", f'CREATE DATABASE "{database}"'],
            check=True,
            capture_output=True,
        )


def _quoted(text: str) -> str:
    if not text.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"database name {text!r}: letters, digits, - and _ only")
    return text


def _local(host: str | None) -> bool:
    return host in (None, "", "127.0.0.1", "localhost", "::1")


def _open(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def _wait_port(
    host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while not _open(host, port):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode} before {host}:{port} was open")
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on {host}:{port} after {timeout:.0f} s")
        time.sleep(0.1)


def _log(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---- the command -----------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", type=int, default=3, help="how many nodes (default 3)")
    parser.add_argument("--dir", default=".cluster", help="configurations, data, logs")
    parser.add_argument("--postgres", default=POSTGRES, help="the store's DSN")
    parser.add_argument("--nats", default=NATS, help="the bus")
    parser.add_argument("--name", default="opensmsc", help="schema, stream and bucket prefix")
    parser.add_argument("--bind", default="127.0.0.1", help="HAProxy's listening address")
    parser.add_argument("--smpp-port", type=int, default=2775)
    parser.add_argument("--tls-port", type=int, default=3550)
    parser.add_argument("--api-port", type=int, default=8080)
    parser.add_argument("--node-base", type=int, default=17000)


def local_main(args: argparse.Namespace) -> int:
    if shutil.which("haproxy") is None:
        print("haproxy is not installed: apt-get install haproxy", file=sys.stderr)
        return 2
    layout = ClusterLayout(
        folder=Path(args.dir).resolve(),
        nodes=args.nodes,
        postgres=args.postgres,
        nats=args.nats,
        name=args.name,
        bind_address=args.bind,
        smpp_port=args.smpp_port,
        tls_port=args.tls_port,
        api_port=args.api_port,
        node_base=args.node_base,
    )
    cluster = LocalCluster(layout)
    stopping = False

    def stop_on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop_on_signal)
    signal.signal(signal.SIGINT, stop_on_signal)
    exited: set[int] = set()
    try:
        cluster.start()
        _describe(layout)
        while not stopping:
            # A node that dies is said once and left down: the others take its work over,
            # which is what the demonstration is for.
            for node, proc in cluster.nodes.items():
                if node not in exited and proc.poll() is not None:
                    exited.add(node)
                    print(f"node-{node} exited with {proc.returncode}", file=sys.stderr)
            time.sleep(0.5)
    except RuntimeError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    return 0


def _describe(layout: ClusterLayout) -> None:
    lines = [
        f"{layout.nodes} nodes behind HAProxy on {layout.bind_address}: SMPP {layout.smpp_port}, "
        f"TLS SMPP {layout.tls_port}, HTTP API {layout.api_port}",
        f"store {layout.postgres}, bus {layout.nats}; files and logs in {layout.folder}",
    ]
    lines += [
        f"  {layout.node_id(node)}: admin {layout.admin_url(node)}, "
        f"SMPP 127.0.0.1:{layout.port(node, SMPP)}"
        for node in range(1, layout.nodes + 1)
    ]
    lines.append(
        f"try: opensmsc cluster status --url {layout.admin_url(1)}; Ctrl-C stops everything"
    )
    print("\n".join(lines), flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="opensmsc cluster local", description=__doc__)
    add_arguments(parser)
    return local_main(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
