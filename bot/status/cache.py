"""Rendered pages and feeds, kept until the data changes: one render however many readers."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from storage.public import PublicDataVersion

log = logging.getLogger(__name__)

GZIP_MIN_BYTES = 1024
MAX_ENTRIES = 512


@dataclass(frozen=True)
class Rendered:
    """A finished response body with its validators, and its gzip form when worth having."""

    body: bytes
    media_type: str
    etag: str
    last_modified: datetime
    gzipped: bytes | None


def rendered(body: bytes, media_type: str, last_modified: datetime, *, now: datetime) -> Rendered:
    """Wrap a body: a strong ETag from its bytes, and gzip done once here, not per request.

    `now` is the site's clock: scheduled maintenance changes data in the future, but
    Last-Modified may not be later than the moment the page is served.
    """
    digest = hashlib.blake2b(body, digest_size=12).hexdigest()
    packed = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    # Whole seconds: HTTP dates have no fraction, and If-Modified-Since compares to them.
    moment = min(last_modified, now).replace(microsecond=0)
    return Rendered(body, media_type, f'"{digest}"', moment, packed)


def _retrieve(task: asyncio.Task[object]) -> None:
    # A failure that every waiter abandoned must not end as "exception never retrieved".
    if not task.cancelled():
        task.exception()


class DataVersionWatch:
    """The current data version, looked up at most once per interval and once at a time."""

    def __init__(self, load: Callable[[], PublicDataVersion], *, recheck_seconds: float) -> None:
        self._load = load
        self._recheck = recheck_seconds
        self._current: PublicDataVersion | None = None
        self._checked = 0.0
        self._task: asyncio.Task[PublicDataVersion] | None = None
        self.lookups = 0

    async def current(self) -> PublicDataVersion:
        """The version; readers within one interval share it, and share one lookup after."""
        if self._current is not None and time.monotonic() - self._checked < self._recheck:
            return self._current
        if self._task is None:
            self._task = asyncio.ensure_future(self._lookup())
            self._task.add_done_callback(_retrieve)
        # A reader that goes away must not cancel the lookup the others wait for.
        return await asyncio.shield(self._task)

    async def _lookup(self) -> PublicDataVersion:
        started = time.monotonic()
        try:
            version = await run_in_threadpool(self._load)
        finally:
            self._task = None
        self.lookups += 1
        self._current, self._checked = version, started
        return version


class RenderCache:
    """The latest body per key and the data version it shows; one render per key and version.

    Concurrent misses on a key wait for a single render. A body from an older
    version is replaced when its key is next asked for; the least recently used
    keys go when the cache is full.
    """

    def __init__(self, *, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, tuple[Hashable, Rendered]] = OrderedDict()
        self._pending: dict[Hashable, asyncio.Task[Rendered | None]] = {}
        self._max = max_entries
        self.renders = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(
        self, key: Hashable, version: Hashable, render: Callable[[], Rendered | None]
    ) -> Rendered | None:
        """The body for a key at a version, rendered in a worker thread on the first request.

        None (a missing incident or component) is returned but never stored, so
        guessed ids cannot fill the cache.
        """
        found = self._entries.get(key)
        if found is not None and found[0] == version:
            self._entries.move_to_end(key)
            return found[1]
        task = self._pending.get((key, version))
        if task is None:
            task = asyncio.ensure_future(self._render(key, version, render))
            task.add_done_callback(_retrieve)
            self._pending[(key, version)] = task
        return await asyncio.shield(task)

    async def _render(
        self, key: Hashable, version: Hashable, render: Callable[[], Rendered | None]
    ) -> Rendered | None:
        began = time.perf_counter()
        try:
            result = await run_in_threadpool(render)
        finally:
            del self._pending[(key, version)]
        self.renders += 1
        log.debug("rendered %r in %.1f ms", key, (time.perf_counter() - began) * 1000)
        if result is not None:
            self._entries[key] = (version, result)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return result
