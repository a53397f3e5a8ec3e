"""Take the test database away and give it back: a TCP proxy to cut, or a SQLite file gone."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from storage.engine import make_engine


@dataclass
class TcpProxy:
    """Forwards local connections to a server until cut; while cut, connections are refused."""

    target: tuple[str, int]
    port: int = 0
    _listener: socket.socket | None = None
    _open: set[socket.socket] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        """Listen (on the same port again after a cut) and forward every connection."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Stop listening and drop every open connection, as a dead server would."""
        if self._listener is not None:
            # Shutdown first: on Linux, close() alone leaves a thread blocked in accept()
            # accepting on.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@dataclass
class Outage:
    """The engine an app under test should use, and how to take its database away."""

    engine: sa.Engine
    proxy: TcpProxy | None
    path: Path | None

    def begin(self) -> None:
        """The database stops answering: the proxy is cut, or the SQLite file is unreadable."""
        if self.proxy is not None:
            self.proxy.cut()
            return
        assert self.path is not None
        # Open connections keep reading a file whatever happens to its name or mode, as
        # a running server's do; new ones must fail. A directory in the file's place is
        # unreadable to SQLite even for root, whom chmod 000 would not stop.
        self.engine.dispose()
        self.path.rename(self.path.with_name(self.path.name + ".away"))
        self.path.mkdir()

    def end(self) -> None:
        """The database is back."""
        if self.proxy is not None:
            self.proxy.start()
            return
        assert self.path is not None
        self.path.rmdir()
        self.path.with_name(self.path.name + ".away").rename(self.path)


@contextlib.contextmanager
def database_to_lose(engine: sa.Engine) -> Iterator[Outage]:
    """An Outage on the test database: the same SQLite file, or PostgreSQL through a proxy."""
    if engine.dialect.name == "sqlite":
        assert engine.url.database is not None
        yield Outage(engine, None, Path(engine.url.database))
        return
    proxy = TcpProxy((engine.url.host or "127.0.0.1", engine.url.port or 5432))
    proxy.start()
    url = engine.url.set(host="127.0.0.1", port=proxy.port)
    through = make_engine(url.render_as_string(hide_password=False))
    try:
        yield Outage(through, proxy, None)
    finally:
        through.dispose()
        proxy.cut()
