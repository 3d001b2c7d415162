"""The admin API's view of the node's messages (http/routes/admin_messages.py MessagesAdmin):
the store's listing, the operator's actions (engine/operator.py) and a message sent as an
account.

A message sent here goes as the account's own would: its throughput bucket (shared with its
SMPP sessions and HTTP API calls; ESME_RTHROTTLED, 429, when empty), its validity rules and
the routing policy (`Acceptor.prepare`), one commit for all its parts (`Acceptor.store`). The
operator chooses the account; the account need not have the HTTP API enabled, as the operator
is not the account's application.

What it is not: the routes, or authentication (the admin token covers the whole listener).
"""

from __future__ import annotations

from collections.abc import Callable

from opensmsc.accounts import Authenticator
from opensmsc.engine import Prepared, StoreAndForward, Submission
from opensmsc.errors import MessageRejected
from opensmsc.http import UnknownAccount
from opensmsc.smpp import CommandStatus
from opensmsc.store import MessageQuery, StoredMessage

__all__ = ["NodeMessages"]


class NodeMessages:
    """`now` is the loop's monotonic clock (the throughput buckets')."""

    def __init__(
        self,
        engine: StoreAndForward,
        authenticator: Authenticator,
        *,
        show_text: bool,
        now: Callable[[], float],
    ) -> None:
        self._engine = engine
        self._authenticator = authenticator
        self._show_text = show_text
        self._now = now

    @property
    def show_text(self) -> bool:
        return self._show_text

    async def find(self, query: MessageQuery) -> tuple[list[StoredMessage], int | None]:
        return await self._engine.store.find(query)

    async def message(self, message_id: str) -> StoredMessage | None:
        return await self._engine.operator.message(message_id)

    async def cancel(self, message_id: str) -> StoredMessage | None:
        return await self._engine.operator.cancel(message_id)

    async def retry(self, message_id: str) -> StoredMessage | None:
        return await self._engine.operator.retry(message_id)

    async def expire(self, message_id: str) -> StoredMessage | None:
        return await self._engine.operator.expire(message_id)

    async def send(self, account: str, submission: Submission) -> Prepared:
        if self._authenticator.account(account) is None:
            raise UnknownAccount(f"no account {account!r} on this node")
        acceptor = self._engine.acceptor
        prepared = acceptor.prepare(account, submission)
        bucket = self._authenticator.throughput_bucket(account)
        if bucket is not None:
            # As the HTTP API takes a long message: at most a full bucket, so it still goes.
            wanted = max(1, min(len(prepared.records), int(bucket.burst)))
            if not bucket.try_take(self._now(), wanted):
                raise MessageRejected(
                    CommandStatus.ESME_RTHROTTLED,
                    f"account {account} is over its throughput of {bucket.rate:g} messages/s",
                )
        await acceptor.store(prepared.records)
        return prepared
