"""The HTTP admin interface (transport floor): the ASGI app (app.py), its routes (routes/), RFC
9457 problem documents for every error (problems.py) and the uvicorn listener (server.py).

Other packages import from here (`from opensmsc.http import HttpServer, create_app`); the
modules may be split or merged. The routes reach the services only through their packages'
public API (`opensmsc.network`, `opensmsc.routing`, `opensmsc.sms`).
"""

from opensmsc.http.app import create_app
from opensmsc.http.problems import MEDIA_TYPE, Problem, problem_type
from opensmsc.http.server import HttpServer

__all__ = ["MEDIA_TYPE", "HttpServer", "Problem", "create_app", "problem_type"]
