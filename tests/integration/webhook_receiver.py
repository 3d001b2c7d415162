"""A webhook receiver for the tests: a plain asyncio HTTP/1.1 server on an ephemeral port that
answers each POST as its script says (a status, or "hang" to answer nothing), keeps every
request it got, and keeps connections alive as a real receiver would."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # what we answered; None: we hung


Answer = int | str  # an HTTP status, or "hang"


@dataclass
class Receiver:
    """`script` gives the answer to the n-th request (from 0); `requests` holds them all."""

    script: Callable[[int], Answer]
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    reply: bytes = b"ok"  # the body of every answer (Jasmin's receivers answer ACK/Jasmin)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def answered(self, status: int = 200) -> list[Received]:
        return [r for r in self.requests if r.status == status]

    async def wait_for(self, check: Callable[[], bool], timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                self.changed.clear()
                await self.changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                _, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                answer = self.script(len(self.requests))
                status = None if answer == "hang" else int(answer)
                self.requests.append(Received(path, headers, body, status))
                self.changed.set()
                if status is None:
                    await asyncio.sleep(3600)  # the sender's timeout ends this
                    return
                reply = self.reply
                writer.write(
                    f"HTTP/1.1 {status} X\r\ncontent-length: {len(reply)}\r\n\r\n".encode() + reply
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def webhook_receiver(
    script: Callable[[int], Answer], *, reply: bytes = b"ok"
) -> AsyncIterator[Receiver]:
    receiver = Receiver(script, reply=reply)
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await receiver._serve(reader, writer)
        finally:
            tasks.discard(task)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await server.wait_closed()
