"""Jasmin (PyPI jasmin 0.11.0) as a system under test for bench/compare.py: one jasmind with
its SMPP server and HTTP API, an SMPP client connector to the benchmark's sink, users, and a
default MT route to the connector.

Runs with the Python of ../shared/peers/.cache/venv-jasmin (jasmin-client.sh installs it) and
reuses ../shared/peers/jasmin/jasmin_client.py: its config file (one jasmind process; the
machine's RabbitMQ on a vhost of its own, Redis db 0), its jCli driver and its vhost handling.
What differs from that peer: the connector points at the sink, not at opensmsc; there are
`--users` users (one per SMPP session, since Jasmin sends a user's receipts to any of its
bound sessions); the DLR mappings expire after 600 s instead of a day (they are Redis keys in
the shared db 0, and the benchmark leaves nothing behind); throttles are unlimited (the
connector's submit_throughput 0, the users' quotas left undefined, which Jasmin reads as
unlimited); a receipt that overtakes its id mapping is looked up again after 1 s, not 10.

Prints one JSON line once the connector is bound: {"pid", "smpp_port", "http_port", "users",
"password", "vhost"}; on SIGTERM stops jasmind by PID, deletes its vhost and its folder.

    venv-jasmin/bin/python bench/peers/jasmin_node.py --sink-port P [--users 4]
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SHARED_JASMIN = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "peers", "jasmin"
)
sys.path.insert(0, SHARED_JASMIN)

from jasmin_client import JCli, Run, free_port, parse_args, wait_port  # noqa: E402

PASSWORD = "pw"
DLR_EXPIRY = 600


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sink-port", type=int, required=True)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--connect-timeout", type=float, default=45.0)
    args = ap.parse_args()
    run = Run(
        parse_args(["--port", str(args.sink_port), "--system-id", "smsc", "--password", "pw"])
    )
    run.dir = tempfile.mkdtemp(prefix="bench-jasmin-")
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        return serve(run, args, stopping)
    finally:
        if run.proc is not None and run.proc.poll() is None:
            run.proc.send_signal(signal.SIGTERM)
            try:
                run.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                run.proc.kill()
                run.proc.wait()
        if run.own_vhost:
            run.rabbitmqctl("delete_vhost", run.own_vhost)
        shutil.rmtree(run.dir, ignore_errors=True)


def serve(run: Run, args: argparse.Namespace, stopping: list) -> int:
    run.setup_vhost()
    ports = {k: free_port() for k in ("smpps", "smpps_pb", "cm", "router", "jcli", "http")}
    cfg = run.write_config(ports)
    with open(cfg) as f:
        text = f.read()
    # The receipts' id mappings of SMPP-server submits expire as the connector's do.
    text = text.replace("[smpp-server]\n", f"[smpp-server]\ndlr_expiry = {DLR_EXPIRY}\n")
    # A receipt that comes before Jasmin stored its submit_sm_resp's id mapping (that goes
    # through RabbitMQ) is looked up again after this many seconds, 10 by default: 1 keeps a
    # race of Jasmin's own from dominating its receipt figures.
    text = text.replace("[dlr]\n", "[dlr]\ndlr_lookup_retry_delay = 1\n")
    with open(cfg, "w") as f:
        f.write(text)
    jasmind = shutil.which("jasmind.py", path=os.path.dirname(sys.executable)) or "jasmind.py"
    env = dict(
        os.environ,
        LOG_PATH=os.path.join(run.dir, "log"),
        CONFIG_PATH=run.dir + "/",
        STORE_PATH=os.path.join(run.dir, "store"),
    )
    with open(os.path.join(run.dir, "jasmind.stdout"), "wb") as out:
        run.proc = subprocess.Popen(
            [
                sys.executable,
                jasmind,
                "-c",
                cfg,
                "--enable-dlr-thrower",
                "--enable-dlr-lookup",
                *run.deliver_thrower_flag(jasmind),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=run.dir,
            env=env,
        )
    until = time.monotonic() + 60
    if not (wait_port(ports["jcli"], until) and wait_port(ports["http"], until)):
        print(f"jasmind did not open its ports; logs in {run.dir}", file=sys.stderr)
        return 2
    jcli = JCli(ports["jcli"])
    users = [f"u{i}" for i in range(args.users)]
    try:
        jcli.block(
            [
                "smppccm -a",
                f"cid {run.cid}",
                "host 127.0.0.1",
                f"port {args.sink_port}",
                "username smsc",
                "password pw",
                "bind transceiver",
                "submit_throughput 0",
                f"dlr_expiry {DLR_EXPIRY}",
                "con_fail_delay 2",
                "con_loss_delay 2",
                "ok",
            ]
        )
        jcli.block(["group -a", "gid bench", "ok"])
        for user in users:
            jcli.block(
                [
                    "user -a",
                    f"username {user}",
                    f"password {PASSWORD}",
                    f"uid {user}",
                    "gid bench",
                    "ok",
                ]
            )
        jcli.block(
            ["mtrouter -a", "type DefaultRoute", f"connector smppc({run.cid})", "rate 0.00", "ok"]
        )
        jcli.cmd(f"smppccm -1 {run.cid}")
        until = time.monotonic() + args.connect_timeout
        while time.monotonic() < until and run.proc.poll() is None:
            if run.connector_status(jcli)[1] == "BOUND_TRX":
                break
            time.sleep(0.3)
        else:
            print(f"connector did not bind; logs in {run.dir}", file=sys.stderr)
            return 1
    finally:
        jcli.close()
    ready = {
        "pid": run.proc.pid,
        "smpp_port": ports["smpps"],
        "http_port": ports["http"],
        "users": users,
        "password": PASSWORD,
        "vhost": run.vhost,
        "dir": run.dir,
    }
    print(json.dumps(ready), flush=True)
    while not stopping and run.proc.poll() is None:
        time.sleep(0.2)
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main())
