"""HTTP ingress for bench/compare.py: a fixed count of messages over `--connections` keep-alive
connections, one message per request, in the dialect of the system under test, with a delivery
report asked for each and received here.

- `opensmsc`: `POST /v1/messages` (JSON, an API key), `callback_url` pointing here (201);
- `kannel`: smsbox's `GET /cgi-bin/sendsms` with `dlr-mask=3` and a `dlr-url` here (202);
- `jasmin`: `GET /send` with `dlr=yes`, `dlr-level=2` (the receipt only) and a `dlr-url` here
  (200 `Success "<id>"`; its reports name that id, not our URL, so the id is mapped back).

Every text carries its token (bench/compare_texts.py); `--long-share 0.3` makes 30% two-part
UCS-2. One JSON line on stdout: accepted messages, p50/p99 submit-to-response (request written
to response read) and submit-to-report latency, the monotonic times of the first request, the
last response and the last report (the sink uses the same clock), and with `--ids-out` the
accepted and the reported tokens. The run ends when every accepted message has its report, or
`--receipt-timeout` seconds after the last response.

Plain asyncio streams (uvloop): light enough on the 2 cores at the rates measured here (a
Kannel or opensmsc node takes far more CPU per request than this client), and unlike wrk it
knows which request was accepted and can wait for that message's report.
"""

# ruff: noqa: E402
from __future__ import annotations

import sys

# This folder is first on sys.path and holds http.py: the standard library's wins.
_BENCH = sys.path.pop(0)
import urllib.parse

sys.path.insert(0, _BENCH)

import argparse
import asyncio
import contextlib
import json
import re
import time
from pathlib import Path

from compare_texts import is_long, long_text, short_text, token

HOST = "127.0.0.1"
TO, FROM = "447700900123", "Bench"
CALLBACK_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\nACK/Jasmin"
)


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.next_index = 0
        self.sent_at: dict[str, float] = {}
        self.lat: list[float] = []
        self.receipt_lat: list[float] = []
        self.accepted: list[str] = []
        self.refused: dict[str, int] = {}
        self.receipted: set[str] = set()
        self.by_jasmin_id: dict[str, str] = {}
        self.early_jasmin: dict[str, float] = {}
        self.t0_mono = self.t_resp_mono = self.t_receipt_mono = 0.0
        self.responses_done = asyncio.Event()
        self.all_receipted = asyncio.Event()
        self.callback_port = 0

    # ---- requests ------------------------------------------------------------------------------

    def request(self, index: int) -> tuple[str, bytes]:
        a = self.args
        tok = token(a.tag, index)
        long = is_long(index, a.long_share)
        text = long_text(tok) if long else short_text(tok)
        callback = f"http://{HOST}:{self.callback_port}/cb"
        if a.dialect == "opensmsc":
            body = json.dumps(
                {"to": "+" + TO, "from": FROM, "text": text, "callback_url": f"{callback}?t={tok}"}
            ).encode()
            head = (
                f"POST /v1/messages HTTP/1.1\r\nHost: {HOST}\r\n"
                f"Authorization: Bearer {a.api_key}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            return tok, head.encode() + body
        if a.dialect == "kannel":
            params = {
                "username": a.user,
                "password": a.password,
                "to": TO,
                "from": FROM,
                "text": text,
                "dlr-mask": "3",
                "dlr-url": f"{callback}?t={tok}&s=%d",
            }
            if long:
                params.update(coding="2", charset="UTF-8")
            path = "/cgi-bin/sendsms?" + urllib.parse.urlencode(params)
        else:
            params = {
                "username": a.user,
                "password": a.password,
                "to": TO,
                "from": FROM,
                "dlr": "yes",
                "dlr-level": "2",
                "dlr-method": "GET",
                "dlr-url": callback,
            }
            if long:
                params.update(coding="8", **{"hex-content": text.encode("utf-16-be").hex()})
            else:
                params.update(coding="0", content=text)
            path = "/send?" + urllib.parse.urlencode(params)
        return tok, f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()

    async def connection(self) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.args.port)
        try:
            while self.next_index < self.args.n:
                index = self.next_index
                self.next_index += 1
                tok, data = self.request(index)
                sent = time.perf_counter()
                self.sent_at[tok] = sent
                writer.write(data)
                status, body = await read_response(reader)
                self.lat.append(time.perf_counter() - sent)
                self.on_response(tok, status, body)
        finally:
            writer.close()

    def on_response(self, tok: str, status: int, body: bytes) -> None:
        ok = 200 <= status < 300
        if ok and self.args.dialect == "jasmin":
            m = re.match(rb'Success "([^"]+)"', body.strip())
            ok = m is not None
            if m is not None:
                jasmin_id = m.group(1).decode()
                self.by_jasmin_id[jasmin_id] = tok
                early = self.early_jasmin.pop(jasmin_id, None)
                if early is not None:
                    self.on_receipt(tok, early)
        if ok:
            self.accepted.append(tok)
        else:
            self.refused[str(status)] = self.refused.get(str(status), 0) + 1
        self.t_resp_mono = time.monotonic()

    # ---- reports -------------------------------------------------------------------------------

    def on_receipt(self, tok: str, now: float) -> None:
        if tok in self.receipted or tok not in self.sent_at:
            return
        self.receipted.add(tok)
        self.receipt_lat.append(now - self.sent_at[tok])
        self.t_receipt_mono = time.monotonic()
        if self.responses_done.is_set() and len(self.receipted) >= len(self.accepted):
            self.all_receipted.set()

    def on_callback(self, target: str) -> None:
        now = time.perf_counter()
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        if self.args.dialect == "jasmin":
            if query.get("level", [""])[0] != "2":
                return
            jasmin_id = query.get("id", [""])[0]
            tok = self.by_jasmin_id.get(jasmin_id)
            if tok is None:
                self.early_jasmin[jasmin_id] = now
                return
        else:
            # Kannel: type 1 delivered, 2 undelivered (dlr-mask 3 asks for no other).
            tok = query.get("t", [""])[0]
        self.on_receipt(tok, now)

    async def callback_session(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(CALLBACK_ANSWER)
                self.on_callback(target)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response: Content-Length or chunked (Twisted, Jasmin's server, chunks)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    status = int(head.split(" ", 2)[1])
    lowered = head.lower()
    m = re.search(r"content-length:\s*(\d+)", lowered)
    if m is not None:
        return status, await reader.readexactly(int(m.group(1)))
    if "transfer-encoding: chunked" in lowered:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, body
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    return status, b""


def quantile_ms(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1e3


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    run = Run(args)
    server = await asyncio.start_server(run.callback_session, HOST, 0)
    run.callback_port = server.sockets[0].getsockname()[1]
    run.t0_mono = time.monotonic()
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.wait_for(
        asyncio.gather(*(run.connection() for _ in range(args.connections))), args.timeout
    )
    accepted_wall = time.perf_counter() - t0
    run.responses_done.set()
    if len(run.receipted) >= len(run.accepted):
        run.all_receipted.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.all_receipted.wait(), args.receipt_timeout)
    wall = time.perf_counter() - t0
    server.close()
    if args.ids_out:
        Path(args.ids_out).write_text(
            json.dumps({"accepted": run.accepted, "receipted": sorted(run.receipted)})
        )
    return {
        "dialect": args.dialect,
        "n": args.n,
        "connections": args.connections,
        "accepted_messages": len(run.accepted),
        "refused": run.refused,
        "accepted_wall_s": accepted_wall,
        "accepted_per_s": len(run.accepted) / accepted_wall,
        "wall_s": wall,
        "receipted_messages": len(run.receipted),
        "p50_ms": quantile_ms(run.lat, 0.5),
        "p99_ms": quantile_ms(run.lat, 0.99),
        "p50_receipt_ms": quantile_ms(run.receipt_lat, 0.5),
        "p99_receipt_ms": quantile_ms(run.receipt_lat, 0.99),
        "t0_mono": run.t0_mono,
        "t_resp_mono": run.t_resp_mono,
        "t_receipt_mono": run.t_receipt_mono,
        "client_cpu_s": time.process_time() - c0,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--dialect", choices=["opensmsc", "kannel", "jasmin"], required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--tag", required=True, help="six lowercase letters naming the run")
    ap.add_argument("--long-share", type=float, default=0.0)
    ap.add_argument("--user", default="bench")
    ap.add_argument("--password", default="bench-pw")
    ap.add_argument("--api-key", default="")
    ap.add_argument("--receipt-timeout", type=float, default=30.0)
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--ids-out")
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        result = uvloop.run(main_async(args))
    else:
        result = asyncio.run(main_async(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
