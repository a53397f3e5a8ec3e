"""Take the test database away and give it back: a proxy cut, or a SQLite file unreadable."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from storage.engine import make_engine
from tests.fakes.tcp_proxy import CuttableProxy


@dataclass
class Outage:
    """The engine an app under test should use, and how to take its database away."""

    engine: sa.Engine
    proxy: CuttableProxy | None
    path: Path | None

    def begin(self) -> None:
        """The database stops answering: the proxy is cut, or the SQLite file is unreadable."""
        if self.proxy is not None:
            self.proxy.cut()
            return
        assert self.path is not None
        # Open connections keep reading a file whatever happens to its name or mode, as
        # a running server's do; new ones must fail. A link into a folder that does not
        # exist cannot be opened or created even by root, whom chmod 000 would not stop.
        # The name is never missing, not even between two steps: a connection opening
        # then would create an empty database there (CI: the link then found it taken).
        self.engine.dispose()
        os.link(self.path, self._away)
        dead = self.path.with_name(self.path.name + ".dead")
        dead.symlink_to(self.path.with_name(self.path.name + ".nowhere") / "herald.db")
        dead.replace(self.path)

    def end(self) -> None:
        """The database is back."""
        if self.proxy is not None:
            self.proxy.restore()
            return
        assert self.path is not None
        # One rename over the link: were the path ever empty, a connection opening then
        # would create an empty database there, in WAL mode, and its -wal and -shm files
        # would be the real database's too; closing, it deletes them under the writers.
        self._away.replace(self.path)
        self.engine.dispose()

    @property
    def _away(self) -> Path:
        assert self.path is not None
        return self.path.with_name(self.path.name + ".away")


@contextlib.contextmanager
def database_to_lose(engine: sa.Engine) -> Iterator[Outage]:
    """An Outage on the test database: the same SQLite file, or PostgreSQL through a proxy."""
    if engine.dialect.name == "sqlite":
        assert engine.url.database is not None
        yield Outage(engine, None, Path(engine.url.database))
        return
    with CuttableProxy(engine.url.host or "127.0.0.1", engine.url.port or 5432) as proxy:
        url = engine.url.set(host="127.0.0.1", port=proxy.port)
        through = make_engine(url.render_as_string(hide_password=False))
        try:
            yield Outage(through, proxy, None)
        finally:
            through.dispose()
