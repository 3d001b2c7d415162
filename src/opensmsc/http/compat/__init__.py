"""Drop-in endpoints for operators migrating from other gateways (issue 12): their clients'
requests answered exactly as the originals answer them, through the same engine, accounts and
throttles as the JSON API, on the API listener.

kannel.py (Kannel smsbox `/cgi-bin/sendsms`), kannel_dlr.py (its delivery reports to the
`dlr-url`, a webhooks `CallbackStyle`); jasmin.py (Jasmin's HTTP API) comes beside them.
Each is switched on or off per listener (`[api] kannel_compat`).
"""

from opensmsc.http.compat.kannel import SENDSMS_PATH, KannelLane
from opensmsc.http.compat.kannel import router as kannel_router
from opensmsc.http.compat.kannel_dlr import KANNEL_STYLE, KannelStyle

__all__ = ["KANNEL_STYLE", "SENDSMS_PATH", "KannelLane", "KannelStyle", "kannel_router"]
