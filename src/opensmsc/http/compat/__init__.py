"""Drop-in endpoints for operators migrating from other gateways (issue 12): their clients'
requests answered exactly as the originals answer them, through the same engine, accounts and
throttles as the JSON API, on the API listener; and their callbacks sent as the originals send
them (webhooks `CallbackStyle`s).

kannel.py (Kannel smsbox `/cgi-bin/sendsms`), kannel_dlr.py (its delivery reports to the
`dlr-url`, the "kannel" callback style); jasmin.py (Jasmin's HTTP API: /send, /balance, /rate,
/ping), jasmin_rest.py (its REST API: /secure/*), jasmin_callbacks.py (the "jasmin" callback
style: DLRs and MO as Jasmin posts them). Each gateway's endpoints are switched on or off per
listener (`[api] kannel_compat`, `[api] jasmin_compat`).
"""

from opensmsc.http.compat.jasmin import jasmin_id
from opensmsc.http.compat.jasmin import router as jasmin_router
from opensmsc.http.compat.jasmin_callbacks import JasminStyle
from opensmsc.http.compat.jasmin_rest import router as jasmin_rest_router
from opensmsc.http.compat.kannel import SENDSMS_PATH, KannelLane
from opensmsc.http.compat.kannel import router as kannel_router
from opensmsc.http.compat.kannel_dlr import KANNEL_STYLE, KannelStyle

# Jasmin's paths that take a body of their own type (forms, JSON whatever its Content-Type says).
JASMIN_PATHS = ("/send", "/secure/send", "/secure/sendbatch")

__all__ = [
    "JASMIN_PATHS",
    "KANNEL_STYLE",
    "SENDSMS_PATH",
    "JasminStyle",
    "KannelLane",
    "KannelStyle",
    "jasmin_id",
    "jasmin_rest_router",
    "jasmin_router",
    "kannel_router",
]
