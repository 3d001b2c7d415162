"""A node on PostgreSQL (`[cluster] postgres`, issue 14), as a process: `opensmsc run` with such
a configuration takes a submit_sm from a real client (python-smpplib), answers its receipt,
is killed with SIGKILL, starts again, and the message is there: in PostgreSQL (its own
schema), not in a SQLite file, and query_sm answers it. A `[cluster]` node also joins the bus
(NATS, started here if down, its buckets deleted at the end: tests/cluster/conftest.py)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import smpplib.client
import smpplib.consts

from opensmsc.cluster.bus import Bus
from opensmsc.smpp import MessageState
from opensmsc.store import DB_FILENAME, PostgresStore
from tests import postgres_server
from tests.cluster.conftest import _BUCKETS, NATS_URL, nats_server  # noqa: F401 (the fixture)
from tests.durability.procs import SmscProcess, SmscSettings, cheap_hash, config_toml, free_port

PASSWORD = "secret1"


class Client:
    """python-smpplib in a thread of its own: what it got, by command."""

    def __init__(self, port: int, system_id: str) -> None:
        self.sent: list[Any] = []  # submit_sm_resp
        self.received: list[Any] = []  # deliver_sm (answered by smpplib)
        self.queried: list[Any] = []  # query_sm_resp
        self.changed = threading.Condition()
        self._client = smpplib.client.Client(
            "127.0.0.1", port, timeout=10, allow_unknown_opt_params=True
        )
        self._client.set_message_sent_handler(lambda pdu: self._got(self.sent, pdu))
        self._client.set_message_received_handler(lambda pdu: self._got(self.received, pdu))
        self._client.set_query_resp_handler(lambda pdu: self._got(self.queried, pdu))
        self._client.connect()
        self._client.bind_transceiver(system_id=system_id, password=PASSWORD)
        self._stop = False
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _got(self, into: list[Any], pdu: Any) -> None:
        with self.changed:
            into.append(pdu)
            self.changed.notify_all()

    def _listen(self) -> None:
        while not self._stop:
            try:
                self._client.read_once()
            except (OSError, smpplib.exceptions.ConnectionError):
                return

    def wait(self, into: list[Any], n: int, timeout: float = 20.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(into) >= n, timeout), f"{len(into)} < {n}"

    def submit(self, text: bytes) -> None:
        self._client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr="opensmsc",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr="447700900123",
            short_message=text,
            registered_delivery=1,
        )

    def query(self, message_id: str) -> None:
        self._client.query_message(
            message_id=message_id,
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr="opensmsc",
        )

    def close(self) -> None:
        # No unbind: its answer would be read by two threads. Closing the socket ends the
        # listener (and the node drops the session as it would any lost client).
        self._stop = True
        self._client.disconnect()
        self._thread.join(15)


def _config(tmp_path: Path, port: int, schema: str) -> Path:
    settings = SmscSettings(
        data_dir=tmp_path / "data",
        port=port,
        system_id="esme1",
        password_hash=cheap_hash(PASSWORD),
        client_window=10,
        deliver_window=10,
    )
    text = (
        f'[cluster]\nnode_id = "node-a"\nname = "{schema}"\npostgres = "{postgres_server.DSN}"'
        f'\n\n{config_toml(settings)}\n[routing]\ndefault_route = "loopback"\n'
    )
    path = tmp_path / "opensmsc.toml"
    path.write_text(text)
    return path


async def _until_receipt_taken(schema: str, message_id: str, timeout: float = 20.0) -> None:
    store = await PostgresStore.open(postgres_server.DSN, schema=schema)
    try:
        async with asyncio.timeout(timeout):
            while True:
                stored = await store.get(message_id)
                if stored is not None and stored.receipt_id is not None:
                    receipt = await store.get(stored.receipt_id)
                    if receipt is not None and receipt.state is MessageState.DELIVERED:
                        return
                await asyncio.sleep(0.05)
    finally:
        await store.close()


async def _delete_buckets(name: str) -> None:
    janitor = Bus(NATS_URL, name=name, node_id="janitor")
    await janitor.start()
    await janitor.wait_connected(10)
    await janitor.delete_buckets(*_BUCKETS)
    await janitor.close()


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("nats_server")
async def test_a_node_on_postgres_keeps_its_messages_across_kill9(tmp_path: Path) -> None:
    await postgres_server.ensure_running()
    schema = f"node_{secrets.token_hex(6)}"
    port = free_port()
    smsc = SmscProcess(_config(tmp_path, port, schema), port, tmp_path / "smsc.log")
    try:
        await smsc.start()
        client = await asyncio.to_thread(Client, port, "esme1")
        try:
            await asyncio.to_thread(client.submit, b"hello over postgres")
            await asyncio.to_thread(client.wait, client.sent, 1)
            message_id = client.sent[0].message_id.decode()
            await asyncio.to_thread(client.wait, client.received, 1)  # the receipt
            receipt = client.received[0]
            assert receipt.receipted_message_id.decode() == message_id
            assert receipt.esm_class & 0x04
            # smpplib answers the deliver_sm after its handler returned, and the node stores
            # the answer after that: wait until PostgreSQL has it (read as another node
            # would), with the session still open.
            await _until_receipt_taken(schema, message_id)
        finally:
            await asyncio.to_thread(client.close)
        smsc.kill()  # unannounced
        await smsc.start()
        client = await asyncio.to_thread(Client, port, "esme1")
        try:
            await asyncio.to_thread(client.query, message_id)
            await asyncio.to_thread(client.wait, client.queried, 1)
            assert client.queried[0].message_state == int(MessageState.DELIVERED)
        finally:
            await asyncio.to_thread(client.close)
        assert smsc.stop() == 0
        assert not (tmp_path / "data" / DB_FILENAME).exists()  # nothing went to SQLite
        store = await PostgresStore.open(postgres_server.DSN, schema=schema)
        try:
            stored = await store.get(message_id)
            assert stored is not None and stored.state is MessageState.DELIVERED
            assert stored.short_message == b"hello over postgres"
            assert stored.receipt_id is not None
            taken = await store.get(stored.receipt_id)
            assert taken is not None and taken.state is MessageState.DELIVERED
        finally:
            await store.close()
    except BaseException:
        log = tmp_path / "smsc.log"
        print(log.read_text(errors="replace")[-4000:] if log.exists() else "no node log")
        raise
    finally:
        smsc.close()
        await postgres_server.drop_schemas([schema])
        await _delete_buckets(schema)


@pytest.mark.timeout(60)
async def test_a_node_whose_postgres_is_not_there_does_not_start(tmp_path: Path) -> None:
    port = free_port()
    gone = f"postgresql://127.0.0.1:{free_port()}/test"  # nothing listens there
    path = _config(tmp_path, port, "unreachable")
    path.write_text(path.read_text().replace(postgres_server.DSN, gone))
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "opensmsc", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode != 0
    # The first part of the node that needs PostgreSQL says where it looked (the live
    # configuration, read before the message store opens).
    said = done.stdout + done.stderr
    assert f"in PostgreSQL {gone} (schema unreachable) cannot be" in said, said
