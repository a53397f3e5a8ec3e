"""A static copy of the public pages, feeds, calendar and API, kept on disk for any web server.

The web process writes it: it already renders these documents for readers, so the copy
is the very bytes it serves. Several web processes may share one directory; a lock on
the directory lets one of them write at a time, and each file is replaced by a rename,
so a reader of the directory never sees half a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import tempfile
from pathlib import Path, PurePosixPath

from starlette.concurrency import run_in_threadpool

from bot.status.stale import is_outage
from bot.status.views import HOME_REFRESH_SECONDS, StatusSite
from commands.public_view import PublicIncident

log = logging.getLogger(__name__)

# How often the copy is compared with the data; the version lookup it costs is one cheap query.
EXPORT_POLL_SECONDS = 1.0
_TEMPORARY = ".*.tmp"


def file_for(path: str) -> PurePosixPath:
    """Where a public path lives in the copy: a name with a dot as it is, else its index.html.

    A plain static server then serves the same addresses: `/` and `/incidents/INC-2`
    are directories with an index.html, `/feed.atom` and `/api/v2/summary.json` files.
    """
    relative = PurePosixPath(path.lstrip("/"))
    if relative.name and "." in relative.name:
        return relative
    return relative / "index.html"


def write_atomically(target: Path, body: bytes) -> bool:
    """Write a file by a temporary beside it and a rename; False when it held these bytes."""
    with contextlib.suppress(OSError):
        if target.read_bytes() == body:
            return False
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(body)
            file.flush()
            os.fsync(file.fileno())
        # mkstemp makes the file private; a web server running as another user must read it.
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    # The rename itself must survive a crash of the host, not only the bytes.
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return True


class StatusExport:
    """Writes every public document to a directory whenever the data behind it changes.

    What is written: the status page, each incident's page, the three feeds, the
    calendar and the Statuspage API documents, in the site's own language. While the
    database is down the copy is left as it was: the last good state.
    """

    def __init__(
        self, site: StatusSite, directory: Path, *, poll_seconds: float = EXPORT_POLL_SECONDS
    ) -> None:
        self.site = site
        self.directory = directory
        self.poll_seconds = poll_seconds
        self._exported: tuple[object, ...] | None = None
        self._pages_of: object = None
        # What each incident page written shows, so a change renders only the pages it touched.
        self._shown: dict[str, PublicIncident] = {}
        self._lock = asyncio.Lock()
        self._held: int | None = None
        self._failing = False

    async def run(self) -> None:
        """Keep the copy current until cancelled; a failed round is logged (once) and retried."""
        problem: str | None = None
        while True:
            try:
                await self.export_once()
                problem = None
            except Exception as error:
                if repr(error) != problem:
                    log.exception("status export: could not write %s; trying again", self.directory)
                problem = repr(error)
            await asyncio.sleep(self.poll_seconds)

    async def export_once(self) -> int:
        """Bring the copy up to date with the data; the number of files written."""
        async with self._lock:
            if not await run_in_threadpool(self._lead):
                return 0
            site, lang, now = self.site, self.site.settings.locale, self.site.clock()
            try:
                version = await site.watch.current()
                mark = (version.token, int(now.timestamp()) // HOME_REFRESH_SECONDS)
                if mark == self._exported:
                    return 0
                bodies: dict[str, bytes] = {}
                shown: dict[str, PublicIncident] | None = None
                for document in site.site_documents(lang, now):
                    entry = await site.cached(document)
                    assert entry is not None, document.path
                    bodies[document.path] = entry.body
                # Incident pages do not age with the clock: only a data change moves them.
                if version.token != self._pages_of:
                    # A page deleted from the copy meanwhile is rendered again too.
                    shown = await run_in_threadpool(self._on_disk, self._shown)
                    bodies.update(await run_in_threadpool(site.render_incident_pages, lang, shown))
            except Exception as error:
                if not is_outage(error):
                    raise
                if not self._failing:
                    log.warning(
                        "status export: the database does not answer (%s); %s keeps the last copy",
                        type(error).__name__,
                        self.directory,
                    )
                self._failing = True
                return 0
            written, refused = await run_in_threadpool(self._write, bodies)
            self._exported, self._pages_of, self._failing = mark, version.token, False
            if shown is not None:
                # Only once written: a failed write must render those pages again.
                self._shown = {p: f for p, f in shown.items() if p not in refused}
            if written:
                log.info("status export: %d files updated in %s", written, self.directory)
            return written

    def _on_disk(self, shown: dict[str, PublicIncident]) -> dict[str, PublicIncident]:
        return {p: f for p, f in shown.items() if (self.directory / file_for(p)).is_file()}

    def _write(self, bodies: dict[str, bytes]) -> tuple[int, set[str]]:
        """Write the bodies; the number written, and the paths refused."""
        root = self.directory.resolve()
        written, refused = 0, set()
        for path, body in bodies.items():
            target = root / file_for(path)
            # A directory link planted in the copy must not send a write elsewhere on the
            # host (a link in a file's place is safe: the rename replaces the link itself).
            if not target.parent.resolve().is_relative_to(root):
                log.warning("status export: %s leads outside %s; not written", path, root)
                refused.add(path)
                continue
            written += write_atomically(target, body)
        return written, refused

    def _lead(self) -> bool:
        """True while this process holds the directory's lock (kept until it exits)."""
        if self._held is not None:
            return True
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = os.open(self.directory, os.O_RDONLY)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            return False
        self._held = handle
        # Temporary files of a writer killed mid-write: nobody else writes here now.
        for leftover in self.directory.rglob(_TEMPORARY):
            leftover.unlink(missing_ok=True)
        log.info("status export: this process keeps the static copy in %s", self.directory)
        return True

    def close(self) -> None:
        """Let another process take over the directory."""
        if self._held is not None:
            os.close(self._held)
            self._held = None
