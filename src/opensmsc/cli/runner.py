"""`opensmsc run` and `opensmsc check-config`: the configuration file to a running node.

`run` checks the file (printing every error, exit status 2), creates the data folder, sets up
logging and hands the `Config` to `opensmsc.app.run`, the composition root, with what SIGHUP
needs: a way to read the file again, and to set logging up again. It knows nothing of what
app.run starts.
"""

from __future__ import annotations

import importlib
import sys
import typing
from collections.abc import Callable
from pathlib import Path

from opensmsc import __version__
from opensmsc.cli.logsetup import setup_logging
from opensmsc.config import Config, check, load
from opensmsc.errors import ConfigError, StartupError

EXIT_CONFIG = 2  # STYLE §4: a ConfigError (or StartupError) is printed, the exit status is 2


def check_config(path: str) -> int:
    """Print every error in the file (and in its policy file), one per line, and return 1; or
    print "ok", return 0."""
    errors = check(path) or _policy_errors(path)
    for error in errors:
        print(error)
    if errors:
        return 1
    print("ok")
    return 0


def run(path: str | None) -> int:
    """Load the configuration and run the node until it stops; returns the exit status."""
    if path is not None:
        errors = check(path)
        if errors:
            for error in errors:
                print(error, file=sys.stderr)
            return EXIT_CONFIG
    try:
        config = load(path)
        _make_data_dir(config, path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(config.logging)
    app_run = _app_run()
    if app_run is None:
        print(
            f"opensmsc {__version__}: the application (opensmsc.app) is not part of this build "
            "yet; the configuration is valid but there is nothing to run",
            file=sys.stderr,
        )
        return 1
    read = None if path is None else _reader(path)
    config_dir = None if path is None else Path(path).resolve().parent
    try:
        status = app_run(config, read=read, apply_logging=setup_logging, config_dir=config_dir)
    except ConfigError as exc:  # e.g. an environment variable named for a password is unset
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except StartupError as exc:  # a port in use, a store it cannot write: one line, no traceback
        print(f"opensmsc: cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    return status if isinstance(status, int) else 0


def _reader(path: str) -> Callable[[], Config | list[ConfigError]]:
    """What SIGHUP calls: the file read again, as a Config or every error in it."""

    def read() -> Config | list[ConfigError]:
        errors = check(path)
        if errors:
            return errors
        try:
            return load(path)
        except ConfigError as exc:  # changed again between the check and the load
            return [exc]

    return read


def _policy_errors(path: str) -> list[ConfigError]:
    """Every error of the policy file `[routing] policy_file` names (and its price list)."""
    config = load(path)
    if config.routing.policy_file is None:
        return []
    # Imported here, not at the top: see _app_run.
    from opensmsc.app import route_names
    from opensmsc.routing import PolicyFileError, load_rules

    try:
        load_rules(config.routing.policy_file, routes=route_names(config))
    except PolicyFileError as exc:
        return exc.errors
    return []


def _make_data_dir(config: Config, path: str | None) -> None:
    data_dir = config.node.data_dir
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create {data_dir}: {exc.strerror or exc}",
            path=path or "<defaults>",
            key="node.data_dir",
        ) from exc


def _app_run() -> Callable[..., object] | None:
    # Imported here, not at the top: the other verbs must work in a build without the app package.
    try:
        module = importlib.import_module("opensmsc.app")
    except ModuleNotFoundError as exc:
        if exc.name == "opensmsc.app":
            return None
        raise
    return typing.cast(Callable[..., object], module.run)
