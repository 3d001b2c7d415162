"""`opensmsc send` and `opensmsc messages list|show|cancel|retry|expire` against a running node
(app.start, its admin API on port 0, the simulated network as the default route). The CLI's
HTTP client blocks, so it runs in a thread while the loop serves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from opensmsc import app
from opensmsc.cli.main import main
from opensmsc.cli.messages import parse_time
from opensmsc.config import HttpConfig
from opensmsc.network import SubscriberState
from tests.conftest import ACCOUNTS, SmscFactory, TestSmsc, account, make_config

ABSENT = "+447700900111"
PRESENT = "+447700900222"


@dataclass
class Cli:
    smsc: TestSmsc
    url: str
    capsys: pytest.CaptureFixture[str]

    async def run(self, *argv: str) -> tuple[int, str, str]:
        """(exit status, stdout, stderr) of `opensmsc ARGV --url URL`."""
        self.capsys.readouterr()
        code = await asyncio.to_thread(main, [*argv, "--url", self.url])
        out, err = self.capsys.readouterr()
        return code, out, err

    async def json(self, *argv: str) -> object:
        code, out, err = await self.run(*argv, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
async def cli(smsc_factory: SmscFactory, capsys: pytest.CaptureFixture[str]) -> AsyncIterator[Cli]:
    accounts = [account(s, p, **extra) for s, p, extra in ACCOUNTS]
    accounts.append(account("slow", "pw", throughput=4.0))
    smsc = await smsc_factory(accounts=accounts)
    assert smsc.running.network is not None
    smsc.running.network.hlr.subscribers.add(ABSENT, state=SubscriberState.ABSENT)
    yield Cli(smsc, f"http://127.0.0.1:{smsc.running.ports['http']}", capsys)


async def test_send_one_and_wait_for_its_final_state(cli: Cli) -> None:
    code, out, err = await cli.run(
        "send", "--account", "esme1", "--from", "Shop", "--to", PRESENT, "hello"
    )
    assert code == 0, err
    message_id, state = out.split()
    assert state == "delivered"
    shown = await cli.json("messages", "show", message_id)
    assert isinstance(shown, dict)
    assert (shown["state"], shown["destination"], shown["text"]) == (
        "delivered",
        PRESENT,
        "<5 octets redacted>",
    )
    code, out, _ = await cli.run("messages", "show", message_id)
    assert code == 0 and "state                delivered" in out and "route" in out


async def test_retry_then_cancel_a_waiting_message(cli: Cli) -> None:
    code, out, err = await cli.run(
        "send", "--account", "esme1", "--from", "Shop", "--to", ABSENT, "--wait", "1", "hi"
    )
    assert code == 0, err  # still open is no failure
    message_id = out.split()[0]
    assert "enroute (absentSubscriberSm (MAP 6)) (still open after --wait)" in out

    listed = await cli.json("messages", "list", "--state", "enroute", "--since", "5m")
    assert isinstance(listed, dict)
    assert [m["id"] for m in listed["messages"]] == [message_id]
    code, out, err = await cli.run("messages", "retry", message_id)
    assert (code, out.split()) == (0, [message_id, "enroute"]), err
    code, out, _ = await cli.run("messages", "cancel", message_id, "0000000000000bad")
    assert code == 1
    assert out.split() == [message_id, "deleted"]
    code, out, err = await cli.run("messages", "expire", message_id)
    assert code == 1 and out == ""
    assert err.strip() == (
        f"error: {message_id}: Message is final: already final (DELETED): cannot expire"
    )

    code, out, _ = await cli.run("messages", "list", "--destination", ABSENT)
    lines = out.splitlines()
    assert lines[0].split() == [
        "ID", "SUBMITTED", "(UTC)", "ACCOUNT", "FROM", "TO", "STATE", "TRIES", "ROUTE", "ERROR"
    ]  # fmt: skip
    assert lines[1].split()[0] == message_id and "deleted" in lines[1].split()
    assert lines[-1] == "1 message"


async def test_send_a_csv_and_summarise_the_final_states(cli: Cli, tmp_path: Path) -> None:
    rows = ["to,text,from"]
    rows += [f'{PRESENT if i % 5 else ABSENT},"text {i}, with a comma",' for i in range(30)]
    rows[3] = f"{PRESENT},from a column,Other"
    csv_file = tmp_path / "messages.csv"
    csv_file.write_text("\n".join(rows) + "\n")
    code, out, err = await cli.run(
        "send", "--account", "esme1", "--from", "Shop", "--csv", str(csv_file), "--wait", "15",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["rows"], summary["accepted"], summary["refused"]) == (30, 30, 0)
    assert summary["states"] == {"delivered": 24, "enroute": 6}
    # Not a terminal: plain progress lines on stderr, the last one complete.
    assert "sending: 30/30" in err and "final: 24/30" in err and "\r" not in err
    listed = await cli.json("messages", "list", "--account", "esme1", "--limit", "40")
    assert isinstance(listed, dict) and len(listed["messages"]) == 30
    assert {m["source"] for m in listed["messages"]} == {"Shop", "Other"}
    # Newest first. (Rows go 8 at a time, so which row was stored first is not fixed.)
    submitted = [m["submitted_at"] for m in listed["messages"]]
    assert submitted == sorted(submitted, reverse=True)
    assert sum(m["destination"] == ABSENT for m in listed["messages"]) == 6

    code, out, _ = await cli.run("messages", "list", "--limit", "7")
    assert out.splitlines()[-1] == "7 messages; more with a larger --limit"


async def test_a_csv_with_refused_rows_says_which(cli: Cli, tmp_path: Path) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text(f"{PRESENT},fine\n12,not a number\n{PRESENT},fine too\n")
    code, out, err = await cli.run(
        "send", "--account", "esme1", "--from", "Shop", "--csv", str(csv_file), "--wait", "10"
    )
    assert code == 1
    assert "error: line 2: Invalid number: destination: '12' is not an E.164 number" in err
    assert out.splitlines()[0].startswith("sent 2 of 3 messages (2 parts) in ")
    assert out.splitlines()[0].endswith("; 1 refused")
    assert out.splitlines()[1].endswith("by state (parts): delivered 2")


async def test_a_throttled_account_gets_every_row_sent(cli: Cli, tmp_path: Path) -> None:
    csv_file = tmp_path / "many.csv"
    csv_file.write_text("".join(f"{PRESENT},row {i}\n" for i in range(10)))
    code, out, err = await cli.run(
        "send", "--account", "slow", "--from", "Shop", "--csv", str(csv_file), "--wait", "10",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["accepted"], summary["states"]) == (10, {"delivered": 10})
    assert summary["send_seconds"] >= 1.0  # 4 a second, a burst of 4: it had to wait


async def test_usage_errors_exit_2(cli: Cli, tmp_path: Path) -> None:
    for argv, text in (
        (["send", "--account", "esme1", "--to", PRESENT, "hi"], "give --from, --to and TEXT"),
        (["send", "--account", "esme1", "--csv", str(tmp_path / "none.csv")], "No such file"),
        (["messages", "list", "--since", "yesterday"], "not an ISO 8601 time"),
        (["messages", "list", "--limit", "0"], "--limit must be at least 1"),
    ):
        code, _, err = await cli.run(*argv)
        assert (code, text in err) == (2, True), (argv, err)
    missing_from = tmp_path / "nofrom.csv"
    missing_from.write_text(f"{PRESENT},hello\n")
    code, _, err = await cli.run("send", "--account", "esme1", "--csv", str(missing_from))
    assert code == 2 and "line 1: no sender" in err
    code, _, err = await cli.run(
        "send", "--account", "nobody", "--from", "Shop", "--to", PRESENT, "hi"
    )
    assert code == 1 and "Unknown account: account: no account 'nobody'" in err


def test_parse_time_takes_iso_8601_and_ages() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert parse_time("90m", now=now) == "2026-01-02T10:30:00+00:00"
    assert parse_time("1d", now=now) == "2026-01-01T12:00:00+00:00"
    assert parse_time("2026-01-01T08:00") == "2026-01-01T08:00:00+00:00"  # no zone: UTC
    assert parse_time("2026-01-01T08:00+02:00") == "2026-01-01T08:00:00+02:00"
    with pytest.raises(ValueError):
        parse_time("soon")


async def test_beyond_loopback_the_verbs_carry_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = make_config(tmp_path / "data")
    config = replace(config, http=HttpConfig(bind_address="0.0.0.0", port=0))
    running = await app.start(config)
    try:
        config_file = tmp_path / "opensmsc.toml"
        config_file.write_text(f'[node]\ndata_dir = "{config.node.data_dir}"\n')
        url = f"http://127.0.0.1:{running.ports['http']}"
        send = ["send", "--account", "esme1", "--from", "Shop", "--to", PRESENT, "hi"]
        for argv in (["messages", "list"], send):
            code = await asyncio.to_thread(main, [*argv, "--url", url])
            assert code == 1 and "Unauthorized" in capsys.readouterr().err
            # the token of the node's data folder, found through --config
            code = await asyncio.to_thread(
                main, [*argv, "--url", url, "--config", str(config_file)]
            )
            assert code == 0, capsys.readouterr().err
    finally:
        await running.stop()
