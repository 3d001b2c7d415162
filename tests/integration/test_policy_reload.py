"""Reloading the policy of a running node (issue 11): `POST /v1/policy/reload` and `opensmsc
policy reload` swap the rules, the price list and the lists at once, under load, without a
failed or misrouted decision; a file with an error leaves the policy in force and the answer
names file, line and key.

The load: eight clients asking route.query on the node's policy port without pause, one
request in flight each, alternating two destinations. Policy A and policy B differ in a rule's
routes, in the prices (which show in each answer's `cost`) and in the block list, so an answer
made of half of each would show: every answer must be exactly A's or exactly B's, every
answer to a query sent after the reload returned must be B's, and none sent before the reload
began may be B's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from opensmsc import app
from opensmsc.app import RunningSmsc
from tests.conftest import make_config

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
OPEN = "447700900123"
BLOCKED_IN_B = "447700900999"


def policy_text(prices: Path, *, b: bool) -> str:
    routes = '["loopback", "network"]' if b else '["loopback"]'
    block = f'[lists]\nblock_destinations = ["{BLOCKED_IN_B}"]\n' if b else ""
    rule = f'[[rule]]\nname = "uk"\nprefix = ["44"]\nroutes = {routes}\n'
    return f'prices_file = "{prices}"\n{block}{rule}'


PRICES_A = "route,mcc_mnc,price\nloopback,*,0.01\nnetwork,*,0.02\n"
PRICES_B = "route,mcc_mnc,price\nloopback,*,0.05\nnetwork,*,0.04\n"

# What each policy answers, per destination: (action, routes with their cost).
A = {
    OPEN: ("route", (("loopback", 0.01),)),
    BLOCKED_IN_B: ("route", (("loopback", 0.01),)),
}
B = {
    OPEN: ("route", (("network", 0.04), ("loopback", 0.05))),
    BLOCKED_IN_B: ("reject", ()),
}


def write_policy(folder: Path, *, b: bool) -> Path:
    """Policy A or B; the price list first, so that the policy file never names a price list
    that is not there yet."""
    prices = folder / "prices.csv"
    policy = folder / "policy.toml"
    prices.write_text(PRICES_B if b else PRICES_A)
    policy.write_text(policy_text(prices, b=b))
    return policy


def shape(result: dict[str, Any]) -> tuple[str, tuple[tuple[str, float | None], ...]]:
    return result["action"], tuple((r["route"], r.get("cost")) for r in result.get("routes", ()))


async def start_node(tmp_path: Path) -> RunningSmsc:
    policy = write_policy(tmp_path, b=False)
    config = make_config(tmp_path / "data")
    config = dataclasses.replace(
        config, routing=dataclasses.replace(config.routing, policy_file=policy)
    )
    return await app.start(config)


class Asker:
    """One client connection asking route.query in a loop until `stop` is set; every answer is
    kept as (monotonic time sent, time answered, destination, result or error)."""

    def __init__(self, port: int, stop: asyncio.Event) -> None:
        self.port = port
        self.stop = stop
        self.answers: list[tuple[float, float, str, dict[str, Any]]] = []

    async def run(self) -> None:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        try:
            n = 0
            while not self.stop.is_set():
                n += 1
                destination = OPEN if n % 2 else BLOCKED_IN_B
                body = json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": n,
                        "method": "route.query",
                        "params": {
                            "account": "esme1",
                            "source": {"addr": "ACME", "ton": 5, "npi": 0},
                            "destination": {"addr": destination, "ton": 1, "npi": 1},
                        },
                    }
                ).encode()
                sent = time.monotonic()
                writer.write(struct.pack(">I", len(body)) + body)
                async with asyncio.timeout(5):
                    (length,) = struct.unpack(">I", await reader.readexactly(4))
                    answer = json.loads(await reader.readexactly(length))
                assert answer["id"] == n
                self.answers.append((sent, time.monotonic(), destination, answer))
        finally:
            writer.close()
            await writer.wait_closed()


async def under_load(running: RunningSmsc, during: Any) -> tuple[list[Asker], Any]:
    """Run eight askers, await `during()` after a moment of traffic, let traffic run on a
    moment, stop; returns the askers and what `during` returned."""
    stop = asyncio.Event()
    askers = [Asker(running.ports["policyd"], stop) for _ in range(8)]
    tasks = [asyncio.create_task(asker.run()) for asker in askers]
    try:
        await asyncio.sleep(0.3)
        outcome = await during()
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return askers, outcome


def results(askers: list[Asker]) -> list[tuple[float, float, str, dict[str, Any]]]:
    found = [answer for asker in askers for answer in asker.answers]
    errors = [a for a in found if "result" not in a[3]]
    assert not errors, f"{len(errors)} answers were errors, the first: {errors[0][3]}"
    return found


async def test_a_reload_under_load_switches_every_decision_at_once(tmp_path: Path) -> None:
    running = await start_node(tmp_path)
    http = f"http://{HOST}:{running.ports['http']}"
    try:
        async with httpx.AsyncClient(base_url=http) as client:

            async def reload() -> tuple[float, float, httpx.Response]:
                write_policy(tmp_path, b=True)
                began = time.monotonic()
                answer = await client.post("/v1/policy/reload")
                return began, time.monotonic(), answer

            askers, (began, done, answer) = await under_load(running, reload)
            assert answer.status_code == 200, answer.text
            summary = answer.json()
            assert (summary["rules"], summary["prices"]) == (1, 2)
            assert summary["reloaded_at"] is not None
            assert (await client.get("/v1/policy")).json() == summary
        found = results(askers)
        before = after = 0
        for sent, answered, destination, reply in found:
            got = shape(reply["result"])
            expected_a, expected_b = A[destination], B[destination]
            if destination == BLOCKED_IN_B and got[0] == "reject":
                got = ("reject", ())
            assert got in (expected_a, expected_b), f"neither A nor B: {reply}"
            if sent > done:
                assert got == expected_b, f"sent after the reload, answered by A: {reply}"
                after += 1
            if answered < began:
                assert got == expected_a, f"answered before the reload, by B: {reply}"
                before += 1
        # Enough traffic on each side for the test to mean something.
        assert before > 50 and after > 50, (before, after, len(found))
    finally:
        await running.stop()


async def test_a_bad_file_keeps_the_policy_in_force_and_names_file_line_and_key(
    tmp_path: Path,
) -> None:
    running = await start_node(tmp_path)
    http = f"http://{HOST}:{running.ports['http']}"
    policy = tmp_path / "policy.toml"
    try:
        async with httpx.AsyncClient(base_url=http) as client:
            good = policy.read_text()

            async def bad_reload() -> httpx.Response:
                # Policy B's rules with a route the node does not have, on line 7.
                write_policy(tmp_path, b=True)
                policy.write_text(policy.read_text().replace('"network"]', '"nowhere"]'))
                return await client.post("/v1/policy/reload")

            askers, answer = await under_load(running, bad_reload)
            assert answer.status_code == 422, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            problem = answer.json()
            assert problem["type"] == "urn:opensmsc:problem:policy-invalid"
            assert problem["errors"] == [
                {
                    "file": str(policy),
                    "line": 7,
                    "key": "rule[0].routes[1]",
                    "message": problem["errors"][0]["message"],
                }
            ]
            assert "nowhere" in problem["errors"][0]["message"]
            # A bad price list (the policy file itself is fine): its file, line and column.
            write_policy(tmp_path, b=True)
            (tmp_path / "prices.csv").write_text(PRICES_B + "network,23415,cheap\n")
            answer = await client.post("/v1/policy/reload")
            assert answer.status_code == 422
            (error,) = answer.json()["errors"]
            assert (error["file"], error["line"], error["key"]) == (
                str(tmp_path / "prices.csv"),
                4,
                "price",
            )
            assert (await client.get("/v1/policy")).json()["reloaded_at"] is None
        # Policy A all along: no answer changed.
        for _, _, destination, reply in results(askers):
            assert shape(reply["result"]) == A[destination], reply
        policy.write_text(good)
    finally:
        await running.stop()


def cli(http_port: int, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opensmsc", "policy", *argv, "--url", f"http://{HOST}:{http_port}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


async def test_the_cli_verb_reloads_and_prints_each_error(tmp_path: Path) -> None:
    running = await start_node(tmp_path)
    port = running.ports["http"]
    policy = tmp_path / "policy.toml"
    try:
        shown = await asyncio.to_thread(cli, port, "show")
        assert shown.returncode == 0, shown.stderr
        assert f"policy {policy}: 1 rules, 2 prices" in shown.stdout
        write_policy(tmp_path, b=True)
        policy.write_text(policy.read_text() + '[[rule]]\nname = "x"\nreject = "ESME_RNOPE"\n')
        failed = await asyncio.to_thread(cli, port, "reload")
        assert failed.returncode == 1
        assert f"{policy}:10: rule[1].reject:" in failed.stderr, failed.stderr
        assert "ESME_RNOPE" in failed.stderr
        write_policy(tmp_path, b=True)
        done = await asyncio.to_thread(cli, port, "reload", "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["default_routes"] == []
        summary = running.policy.summary() if running.policy else None
        assert summary is not None and summary["reloaded_at"] is not None
    finally:
        await running.stop()


async def test_a_node_without_a_policy_file_answers_409(tmp_path: Path) -> None:
    running = await app.start(make_config(tmp_path / "data"))
    try:
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{running.ports['http']}") as client:
            answer = await client.post("/v1/policy/reload")
            assert answer.status_code == 409
            assert answer.json()["type"] == "urn:opensmsc:problem:no-policy"
    finally:
        await running.stop()
