"""How every admin verb reaches a node: its HTTP admin API's address and token.

The address is `--url`, else `$OPENSMSC_ADMIN_URL`, else the `[http]` address of `--config
FILE`, else http://127.0.0.1:8775 (the default `[http]`). The token is `--token`, else
`$OPENSMSC_ADMIN_TOKEN`, else the `admin-token` file in the data folder of `--config FILE` (the
node writes it there at its first start, readable by its user only), else none: a node that
listens on loopback only does not ask for one.

It uses only the standard library's HTTP client, so the command needs nothing the node does not.
Errors are `NodeError`: the node's RFC 9457 problem in a line (with a policy file's errors one
per line), or why it could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from opensmsc.config import ConfigError, load

__all__ = [
    "DEFAULT_URL",
    "TOKEN_ENV",
    "URL_ENV",
    "AdminClient",
    "NodeError",
    "add_node_arguments",
    "client_from_args",
    "quote",
]

DEFAULT_URL: Final = "http://127.0.0.1:8775"
URL_ENV: Final = "OPENSMSC_ADMIN_URL"
TOKEN_ENV: Final = "OPENSMSC_ADMIN_TOKEN"
TOKEN_FILE: Final = "admin-token"
_TIMEOUT: Final = 10.0  # seconds; an admin request answers at once or the node is stuck


class NodeError(Exception):
    """The node answered with a problem (`status`), or could not be reached (`status` None)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def add_node_arguments(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    """--url, --config, --token (and --json): where the node is and how to prove who we are."""
    parser.add_argument(
        "--url", help=f"the node's HTTP admin API (default: ${URL_ENV}, else {DEFAULT_URL})"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="take the API address from [http], its token from data_dir"
    )
    parser.add_argument("--token", help=f"the admin token (default: ${TOKEN_ENV})")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print the API's JSON")


def quote(value: str) -> str:
    """A path segment: a number's `+` stays readable."""
    return urllib.parse.quote(value, safe="+")


class AdminClient:
    """One node's admin API. Every call raises NodeError on a problem answer or no answer."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = _TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """The JSON answer of `method path` (None for an empty one). `params` with None values
        are left out of the query string."""
        with self._open(method, path, body, params=params, timeout=self.timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def text(self, path: str) -> str:
        """A text answer (not JSON) of `GET path`, whole."""
        with self._open("GET", path, None, params=None, timeout=self.timeout) as response:
            raw: bytes = response.read()
        return raw.decode("utf-8")

    def lines(self, path: str, *, params: Mapping[str, Any] | None = None) -> Iterator[str]:
        """A streamed answer line by line (server-sent events, JSON lines), as they come; ends
        when the node closes it."""
        with self._open("GET", path, None, params=params, timeout=None) as response:
            for raw in response:
                yield raw.decode("utf-8", "replace").rstrip("\r\n")

    def _open(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        params: Mapping[str, Any] | None,
        timeout: float | None,
    ) -> Any:
        url = self.base_url + path
        if params:
            query = {k: v for k, v in params.items() if v is not None}
            if query:
                url += "?" + urllib.parse.urlencode(query, doseq=True)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json, application/problem+json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            return urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise NodeError(problem_text(exc), exc.code) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NodeError(f"cannot reach the node at {self.base_url}: {reason}") from exc


def client_from_args(args: argparse.Namespace) -> AdminClient:
    """The client the arguments of add_node_arguments name (see the module's docstring)."""
    config = None
    config_file = getattr(args, "config", None)
    if config_file:
        try:
            config = load(config_file)
        except ConfigError as exc:
            raise NodeError(str(exc)) from exc
    url = getattr(args, "url", None) or os.environ.get(URL_ENV)
    if not url and config is not None:
        host = config.http.bind_address
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        url = f"http://{host}:{config.http.port}"
    token = getattr(args, "token", None) or os.environ.get(TOKEN_ENV)
    if not token and config is not None:
        token = read_token(config.node.data_dir / TOKEN_FILE)
    return AdminClient(url or DEFAULT_URL, token)


def read_token(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def problem_text(exc: urllib.error.HTTPError) -> str:
    """An RFC 9457 problem in a line; a policy file's errors one per line, file:line: key."""
    try:
        problem = json.loads(exc.read())
    except ValueError:
        return f"HTTP {exc.code} {exc.reason}"
    if not isinstance(problem, dict):
        return f"HTTP {exc.code} {exc.reason}"
    text = f"{problem.get('title', exc.reason)}: {problem.get('detail', '')}"
    errors = problem.get("errors", ())
    if errors and isinstance(errors[0], dict) and "file" in errors[0]:
        for error in errors:
            where = str(error.get("file", ""))
            if error.get("line") is not None:
                where += f":{error['line']}"
            key = f" {error['key']}:" if error.get("key") else ""
            text += f"\n  {where}:{key} {error.get('message', '')}"
        return text
    for error in errors[1:]:
        if isinstance(error, dict):
            text += f"; {'.'.join(map(str, error.get('location', ())))}: {error.get('message', '')}"
    return text
