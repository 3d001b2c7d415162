"""The webhook sender as a service: delivery reports to callback URLs and accounts'
webhook_url (http/webhooks/). Started after the front doors, stopped before the engine closes;
POSTs under way at a stop stay owed in the store and go after the next start."""

from __future__ import annotations

from opensmsc.config import Config
from opensmsc.engine import StoreAndForward
from opensmsc.http import CallbackStyles, JasminStyle, WebhookSender, WebhookSettings
from opensmsc.store import system_clock

__all__ = ["WebhookService", "uses_webhooks"]


def uses_webhooks(config: Config) -> bool:
    """Whether anything can owe a webhook: the HTTP API (callback_url) or an account's
    webhook_url."""
    return config.api.enabled or any(a.webhook_url for a in config.accounts)


class WebhookService:
    name = "webhooks"

    def __init__(self, config: Config, *, engine: StoreAndForward) -> None:
        api = config.api
        self.sender = WebhookSender(
            engine.store,
            wake=engine.webhook_stored,
            secrets={a.system_id: a.webhook_secret for a in config.accounts if a.webhook_secret},
            clock=system_clock,
            settings=WebhookSettings(
                retry_for=api.webhook_retry_for,
                backoff=api.webhook_backoff,
                max_backoff=api.webhook_max_backoff,
                timeout=api.webhook_timeout,
            ),
            # Kept whether or not the drop-in endpoints are on: callbacks stored while they
            # were still go.
            styles=CallbackStyles({"jasmin": JasminStyle()}),
        )

    async def start(self) -> None:
        self.sender.start()

    async def stop(self) -> None:
        await self.sender.stop()
