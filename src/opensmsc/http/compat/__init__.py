"""Drop-in endpoints for operators migrating from other gateways (issue 12): their HTTP APIs
answered as the originals answer them, on the HTTP API listener, and their callbacks sent as
the originals send them.

jasmin.py (Jasmin's HTTP API: /send, /balance, /rate, /ping), jasmin_rest.py (its REST API:
/secure/*), jasmin_callbacks.py (the "jasmin" callback style: DLRs and MO as Jasmin posts them).
"""

from opensmsc.http.compat.jasmin import jasmin_id
from opensmsc.http.compat.jasmin import router as jasmin_router
from opensmsc.http.compat.jasmin_callbacks import JasminStyle
from opensmsc.http.compat.jasmin_rest import router as jasmin_rest_router

# Jasmin's paths that take a body of their own type (forms, JSON whatever its Content-Type says).
JASMIN_PATHS = ("/send", "/secure/send", "/secure/sendbatch")

__all__ = ["JASMIN_PATHS", "JasminStyle", "jasmin_id", "jasmin_rest_router", "jasmin_router"]
