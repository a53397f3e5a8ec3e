"""A Starlette app served by uvicorn on a background thread, and request parsing for the fakes."""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

import uvicorn
from starlette.requests import Request
from starlette.types import ASGIApp

logger = logging.getLogger(__name__)

START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0


@dataclass
class Recorded:
    """One call as a fake received and answered it."""

    at: float  # the fake's clock when it answered
    method: str
    params: dict[str, Any]
    status: int
    verb: str = "POST"


@dataclass
class Failure:
    """An injected failure for the next `count` calls (of `method`, if set)."""

    count: int
    status: int
    text: str | None  # Telegram description / Slack error code
    retry_after: int | None
    method: str | None


class FailureQueue:
    """Failures queued by fail_next(), consumed in order by matching calls."""

    def __init__(self) -> None:
        self._pending: list[Failure] = []

    def add(self, failure: Failure) -> None:
        """Queue one more failure."""
        self._pending.append(failure)

    def take(self, method: str | None) -> Failure | None:
        """The failure this call gets, if any (method names compare case-insensitively)."""
        for failure in self._pending:
            if failure.method is None or failure.method.lower() == (method or "").lower():
                failure.count -= 1
                if failure.count <= 0:
                    self._pending.remove(failure)
                return failure
        return None


class _Uvicorn(uvicorn.Server):
    """uvicorn that notices stop() at once instead of on its next 0.1 s tick."""

    loop: asyncio.AbstractEventLoop | None = None
    wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self.wake, self.loop = asyncio.Event(), asyncio.get_running_loop()
        counter = 0
        while not await self.on_tick(counter):
            counter += 10  # on_tick refreshes the Date header when counter % 10 == 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), 1.0)

    def exit_soon(self) -> None:
        """Ask the server to stop; callable from any thread."""
        self.should_exit = True
        loop, wake = self.loop, self.wake
        if loop is not None and wake is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(wake.set)


class FakeServer:
    """Runs a Starlette app with uvicorn in a background thread on 127.0.0.1, port 0 (free)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._server: _Uvicorn | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self.closing = False  # set by stop() so long polls end at once

    @property
    def base_url(self) -> str:
        """Where the server listens, e.g. "http://127.0.0.1:41234"."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        """Bind a free port and serve until stop(); returns once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        self.closing = False
        # proto must say TCP: asyncio sets TCP_NODELAY only on such sockets, and without it
        # every request pays a 40 ms delayed-ACK stall
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        self._socket = sock
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,  # leave the process's logging alone (uvicorn's is global)
            log_level=None,
            loop="asyncio",
            http="h11",
            timeout_graceful_shutdown=1,
        )
        server = _Uvicorn(config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.002)

    def stop(self) -> None:
        """Ask uvicorn to shut down and wait for its thread; safe to call twice."""
        server, thread = self._server, self._thread
        self.closing = True
        if server is not None:
            server.exit_soon()
        if thread is not None:
            thread.join(STOP_TIMEOUT)
            if thread.is_alive():
                logger.warning("fake server thread did not stop in %s s", STOP_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class RecordingServer(FakeServer):
    """A fake API: a clock, a lock around its state, every call recorded, failures on demand."""

    def __init__(self, app: ASGIApp, clock: Callable[[], float]) -> None:
        super().__init__(app)
        self.clock = clock
        self.requests: list[Recorded] = []
        self.too_many_requests = 0
        self._lock = threading.RLock()
        self._failures = FailureQueue()
        self._outage = False

    def calls(self, method: str) -> list[Recorded]:
        """The recorded calls of one method, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.method.lower() == method.lower()]

    def set_outage(self, on: bool) -> None:
        """While on, every call fails with the platform's gateway error."""
        with self._lock:
            self._outage = on

    def _record(self, method: str, params: dict[str, Any], status: int, verb: str) -> None:
        with self._lock:
            if status == 429:
                self.too_many_requests += 1
            self.requests.append(Recorded(self.clock(), method, params, status, verb))


class UpdateQueue:
    """Updates waiting for a long-polling consumer (Telegram's getUpdates); guard with a lock."""

    def __init__(self) -> None:
        self.pending: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._generation = 0

    def add(self, update: dict[str, Any]) -> int:
        """Queue an update; returns the update_id it was given."""
        update_id = next(self._ids)
        self.pending.append({**update, "update_id": update_id})
        return update_id

    def confirm(self, offset: int) -> int:
        """Forget updates below `offset` (the client has them) and open a poll; returns its id."""
        if offset:
            self.pending = [u for u in self.pending if u["update_id"] >= offset]
        self._generation += 1
        return self._generation

    def superseded(self, poll: int) -> bool:
        """Whether a newer poll has started since `poll`."""
        return self._generation != poll


async def read_params(request: Request) -> dict[str, Any]:
    """Query string merged with a JSON, url-encoded or multipart body (the body wins)."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            return params
        if isinstance(decoded, dict):
            params.update(decoded)
    elif kind == "multipart/form-data":
        params.update(_parse_multipart(content_type, body))
    else:  # url-encoded, or a client that did not say
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        if part.get_filename() is None:
            fields[name] = raw.decode(part.get_content_charset() or "utf-8", "replace")
        else:
            fields[name] = raw
    return fields


def decode_json_fields(params: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """The named form fields, which clients JSON-encode (objects, arrays, booleans), decoded.

    Only those: a text that happens to look like JSON ("[1/2] Mail down") stays text.
    """
    decoded = dict(params)
    for name in names & params.keys():
        value = params[name]
        if isinstance(value, str) and (value[:1] in ("{", "[") or value in ("true", "false")):
            with contextlib.suppress(ValueError):
                decoded[name] = json.loads(value)
    return decoded


async def wait_until(predicate: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    """Poll a cheap predicate on the server loop without blocking it."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(step)
    return True


def as_int(value: Any, default: int = 0) -> int:
    """A parameter that should be an integer, or the default."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
