"""A node with `[imps]` for the IMPS end-to-end tests (test_imps_*.py): app.start() on ephemeral
ports, the simulated network as the default route, two IMPS users on two of its handsets; and
the demo phone (cli/imps_phone.py) driving a handset through the node's admin API exactly as
`opensmsc imps` does, run in a thread (it blocks on HTTP while the node runs on the loop)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from opensmsc import app
from opensmsc.cli.admin_client import AdminClient
from opensmsc.cli.imps_phone import DemoPhone
from opensmsc.config import AccountConfig, ImpsConfig, ImpsUserConfig
from opensmsc.imps import Primitive
from tests.conftest import account, make_config

T = TypeVar("T")

ALICE_PHONE = "+447700900001"
BOB_PHONE = "+447700900002"
PLAIN_PHONE = "+447700900003"  # a handset with no IMPS user: plain SMS only
SHORT_CODE = "3590"
USERS = (
    ImpsUserConfig(user_id="alice", msisdn=ALICE_PHONE, password="alice-pw"),
    ImpsUserConfig(user_id="bob", msisdn=BOB_PHONE, password="bob-pw"),
)


@dataclasses.dataclass
class ImpsNode:
    running: app.RunningSmsc
    base_url: str
    state_dir: Path

    def phone(self, handset: str, *, wait: float = 10.0) -> Phone:
        return Phone(self, handset, wait)

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return AdminClient(self.base_url).call(method, path, body)

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return await asyncio.to_thread(self.admin, method, path, body)


class Phone:
    """A DemoPhone on one handset, each verb awaited from the test's loop."""

    def __init__(self, node: ImpsNode, handset: str, wait: float) -> None:
        self.out = io.StringIO()
        digits = "".join(ch for ch in handset if ch.isdigit())
        self.demo = DemoPhone(
            handset,
            call=node.admin,
            state_path=node.state_dir / f"{digits}.json",
            short_code=SHORT_CODE,
            out=self.out,
            wait=wait,
        )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def login(self, user: str, password: str) -> bool:
        return await self.run(self.demo.login, user, password)

    async def exchange(self, code: str, *params: Any) -> Primitive | None:
        demo = self.demo
        return await self.run(lambda: demo.exchange(demo.request(code, *params)))

    async def read_for(self, seconds: float) -> list[Primitive]:
        """Read the inbox for `seconds`; every primitive that arrived meanwhile."""
        demo = self.demo
        before = len(demo.received)
        previous = demo._wait
        demo._wait = seconds
        try:
            await self.run(demo.read_until, None)
        finally:
            demo._wait = previous
        return demo.received[before:]

    async def wait_for(
        self, match: Callable[[Primitive], bool], timeout: float = 10.0
    ) -> Primitive:
        """The first primitive received (earlier ones included) that `match` accepts;
        polls (PO) while waiting, as a phone woken by CIR would."""
        demo = self.demo
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for primitive in demo.received:
                if match(primitive):
                    return primitive
            assert loop.time() < deadline, f"not received; got:\n{self.out.getvalue()}"
            await self.read_for(0.3)

    def lines(self) -> str:
        return self.out.getvalue()


def imps_config(
    data_dir: Path,
    *,
    accounts: list[AccountConfig] | None = None,
    **imps: Any,
) -> Any:
    base = make_config(data_dir, accounts=accounts or [account("esme1", "pw1")])
    settings: dict[str, Any] = {"enabled": True, "short_code": SHORT_CODE, "users": USERS}
    settings.update(imps)
    return dataclasses.replace(base, imps=ImpsConfig(**settings))


@asynccontextmanager
async def imps_node(tmp_path: Path, **imps: Any) -> AsyncIterator[ImpsNode]:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    running = await app.start(imps_config(data_dir, **imps))
    try:
        port = running.ports["http"]
        yield ImpsNode(running, f"http://127.0.0.1:{port}", tmp_path / "phones")
    finally:
        await running.stop()
