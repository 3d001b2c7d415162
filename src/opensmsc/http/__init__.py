"""The HTTP front doors: the admin interface (app.py, its routes in routes/), the public API
for applications (api/), RFC 9457 problem documents for every error (problems.py), the offline
docs page (docs.py), the uvicorn listener (server.py) and the webhook sender (webhooks/).

Other packages import from here (`from opensmsc.http import HttpServer, create_app`); the
modules may be split or merged. The routes reach the services only through their packages'
public API (`opensmsc.network`, `opensmsc.routing`, `opensmsc.sms`).
"""

from opensmsc.http.api import ApiSettings, create_api_app, purge_forever
from opensmsc.http.app import (
    AdminAuth,
    ClusterSource,
    ConfigAdmin,
    ImpsAdmin,
    MessagesAdmin,
    MetricsSource,
    PduFeed,
    ReadinessCheck,
    SessionAmbiguous,
    StatusSource,
    TrailSource,
    create_app,
)
from opensmsc.http.compat import KANNEL_STYLE, JasminStyle, KannelStyle
from opensmsc.http.problems import MEDIA_TYPE, Problem, problem_type
from opensmsc.http.routes.admin_config import ConfigInvalid, ConfigItemExists, ConfigItemNotFound
from opensmsc.http.routes.admin_messages import UnknownAccount
from opensmsc.http.server import HttpServer
from opensmsc.http.webhooks import (
    CallbackRequest,
    CallbackStyle,
    CallbackStyles,
    WebhookMoRoute,
    WebhookSender,
    WebhookSettings,
)

__all__ = [
    "KANNEL_STYLE",
    "MEDIA_TYPE",
    "AdminAuth",
    "ApiSettings",
    "CallbackRequest",
    "CallbackStyle",
    "CallbackStyles",
    "ClusterSource",
    "ConfigAdmin",
    "ConfigInvalid",
    "ConfigItemExists",
    "ConfigItemNotFound",
    "HttpServer",
    "ImpsAdmin",
    "JasminStyle",
    "KannelStyle",
    "MessagesAdmin",
    "MetricsSource",
    "PduFeed",
    "Problem",
    "ReadinessCheck",
    "SessionAmbiguous",
    "StatusSource",
    "TrailSource",
    "UnknownAccount",
    "WebhookMoRoute",
    "WebhookSender",
    "WebhookSettings",
    "create_api_app",
    "create_app",
    "problem_type",
    "purge_forever",
]
