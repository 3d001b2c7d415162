"""The webhook sender as a service: delivery reports to callback URLs and accounts'
webhook_url (http/webhooks/), and the MO routes of the accounts with a webhook_url. Started
after the front doors, stopped before the engine closes; POSTs under way at a stop stay owed
in the store and go after the next start."""

from __future__ import annotations

from opensmsc.config import Config
from opensmsc.engine import StoreAndForward
from opensmsc.http import (
    KANNEL_STYLE,
    CallbackStyles,
    JasminStyle,
    KannelStyle,
    WebhookMoRoute,
    WebhookSender,
    WebhookSettings,
)
from opensmsc.store import system_clock

__all__ = ["WebhookService", "uses_webhooks"]


def uses_webhooks(config: Config) -> bool:
    """Whether anything can owe a webhook: the HTTP API (callback_url) or an account's
    webhook_url."""
    return config.api.enabled or any(a.webhook_url for a in config.accounts)


def callback_styles() -> CallbackStyles:
    """Every way a callback can look (http/webhooks/styles.py). The drop-in endpoints' styles
    are always known, even with their endpoints switched off (`[api] kannel_compat`,
    `jasmin_compat`): callbacks owed for messages sent while they were on still go."""
    return CallbackStyles({KANNEL_STYLE: KannelStyle(), "jasmin": JasminStyle()})


class WebhookService:
    name = "webhooks"

    def __init__(self, config: Config, *, engine: StoreAndForward) -> None:
        api = config.api
        styles = callback_styles()
        secrets = {a.system_id: a.webhook_secret for a in config.accounts if a.webhook_secret}
        self.sender = WebhookSender(
            engine.store,
            wake=engine.webhook_stored,
            secrets=secrets,
            clock=system_clock,
            settings=WebhookSettings(
                retry_for=api.webhook_retry_for,
                backoff=api.webhook_backoff,
                max_backoff=api.webhook_max_backoff,
                timeout=api.webhook_timeout,
            ),
            styles=styles,
        )
        # An account with a webhook_url gets its MO there rather than on its SMPP sessions.
        self.mo_routes = [
            WebhookMoRoute(
                account.system_id,
                account.webhook_url,
                styles=styles,
                clock=system_clock,
                timeout=api.webhook_timeout,
                style=account.mo_style,
                secret=secrets.get(account.system_id),
            )
            for account in config.accounts
            if account.webhook_url
        ]
        self._router = engine.router

    async def start(self) -> None:
        for route in self.mo_routes:
            route.start()
            self._router.add_mo_route(route.system_id, route)
        self.sender.start()

    async def stop(self) -> None:
        await self.sender.stop()
        for route in self.mo_routes:
            await route.stop()
