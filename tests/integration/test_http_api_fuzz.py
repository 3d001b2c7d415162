"""The HTTP API fuzzed from its own OpenAPI document with schemathesis, against a running node:
whatever a client sends, valid or not, no answer is a 5xx, and every answer matches what the
document says (status codes, content types, bodies).

The node runs in a thread of its own with its own event loop (as a separate server would);
schemathesis drives it over real HTTP with the account's API key."""

from __future__ import annotations

import asyncio
import collections
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from opensmsc import app
from opensmsc.config import loads

from .api_node import KEY, config_text

pytestmark = pytest.mark.timeout(600)

# High limits: the fuzzer sends thousands of requests quickly, and a 429 would hide the
# answers it is there to check.
API = """
max_batch = 50
"""
ACCOUNT = """
throughput = 100000
"""


class _NodeThread:
    def __init__(self, tmp_path: Path) -> None:
        self._config = loads(config_text(tmp_path, api=API, account=ACCOUNT))
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._run(),))

    async def _run(self) -> None:
        try:
            running = await app.start(self._config)
        except BaseException as exc:
            self._error = exc
            self._started.set()
            raise
        self._stop = asyncio.Event()
        self.port = running.ports["api"]
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            await running.stop()

    def __enter__(self) -> _NodeThread:
        self._thread.start()
        assert self._started.wait(30), "the node did not start"
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self._loop.close()


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    with _NodeThread(tmp_path_factory.mktemp("fuzz")) as node:
        yield schemathesis.openapi.from_url(f"http://127.0.0.1:{node.port}/openapi.json")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _operations(schema: schemathesis.BaseSchema) -> list[schemathesis.APIOperation]:
    return [result.ok() for result in schema.get_all_operations()]


def test_the_document_has_the_messages_operations(api_schema: schemathesis.BaseSchema) -> None:
    paths = {(op.method.upper(), op.path) for op in _operations(api_schema)}
    assert ("POST", "/v1/messages") in paths and ("POST", "/v1/messages/batch") in paths
    assert ("GET", "/v1/messages/{message_id}") in paths or any(
        p.startswith("/v1/messages/{") for _, p in paths
    )


def _fuzz(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    answered: collections.Counter[tuple[str, str, int]],
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        case.validate_response(response, checks=CHECKS)
        answered[(operation.method.upper(), operation.path, response.status_code)] += 1

    try:
        fuzz()
    except Unsatisfiable:
        # No invalid request can be made of an operation without parameters or body.
        if mode is not GenerationMode.NEGATIVE:
            raise


def test_no_request_gets_a_server_error_or_an_undocumented_answer(
    api_schema: schemathesis.BaseSchema,
) -> None:
    answered: collections.Counter[tuple[str, str, int]] = collections.Counter()
    operations = _operations(api_schema)
    for operation, mode in itertools.product(operations, GenerationMode):
        _fuzz(operation, mode, answered)
    # Every operation was called (a fuzzer that reaches nothing proves nothing).
    assert {(m, p) for m, p, _ in answered} == {(o.method.upper(), o.path) for o in operations}
