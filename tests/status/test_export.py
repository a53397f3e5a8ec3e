"""STATUS_EXPORT_DIR: a static copy of the public side, equal to the live pages, kept current."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.testclient import TestClient

from bot.status.export import StatusExport, file_for, write_atomically
from bot.status.pages import PageContext
from commands.public_view import PublicIncident
from tests.factories import FakeClock, run
from tests.status.helpers import CHANNEL, NOTE, seed_status, site_of, status_app
from tests.status.outage import database_to_lose
from tests.status.test_caching import CACHED_PATHS

INCIDENT_PAGES = tuple(f"/incidents/INC-{n}" for n in range(1, 5))
EXPORTED = tuple(p for p in CACHED_PATHS if not p.startswith("/incidents/")) + INCIDENT_PAGES


def export_of(client: TestClient) -> StatusExport:
    """The exporter the app runs."""
    export = client.app.state.status_export  # type: ignore[attr-defined]
    assert isinstance(export, StatusExport)
    return export


def export_now(client: TestClient) -> int:
    """One export round in the app's own event loop, as its background task runs them."""
    assert client.portal is not None
    written: int = client.portal.call(export_of(client).export_once)
    return written


def files_in(directory: Path) -> dict[str, bytes]:
    """Every file of the copy by its path in it."""
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_the_static_export_matches_the_live_pages(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    seed_status(sessions, clock)
    directory = tmp_path / "status"
    with TestClient(status_app(engine, clock, status_export_dir=str(directory))) as client:
        export_now(client)
        copy = files_in(directory)
        assert set(copy) == {str(file_for(path)) for path in EXPORTED}
        for path in EXPORTED:
            assert copy[str(file_for(path))] == client.get(path).content, path
    assert "index.html" in copy
    assert "incidents/INC-2/index.html" in copy
    assert "api/v2/scheduled-maintenances/upcoming.json" in copy
    # Public data only: no internal note, no subscriber or channel address.
    for name, body in copy.items():
        assert NOTE.encode() not in body, name
        assert CHANNEL.encode() not in body, name


def test_the_export_follows_a_change_and_keeps_the_last_copy_while_the_database_is_down(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    ctx = seed_status(sessions, clock)
    directory = tmp_path / "status"
    with database_to_lose(engine) as outage:
        app = status_app(outage.engine, clock, status_export_dir=str(directory))
        with TestClient(app) as client:
            export_now(client)
            before = files_in(directory)
            assert export_now(client) == 0  # nothing changed, nothing written
            clock.advance(minutes=1)
            run(ctx, 'update INC-2 "Le code si stanno smaltendo"')
            assert export_now(client) > 0
            after = files_in(directory)
            assert b"Le code si stanno smaltendo" in after["incidents/INC-2/index.html"]
            assert b"Le code si stanno smaltendo" in after["feed.atom"]
            assert after["incidents/INC-1/index.html"] == before["incidents/INC-1/index.html"]
            for path in EXPORTED:
                assert after[str(file_for(path))] == client.get(path).content, path
            outage.begin()
            clock.advance(minutes=10)
            assert export_now(client) == 0
            assert files_in(directory) == after
            outage.end()
            assert export_now(client) > 0  # the home page has aged meanwhile
    assert not list(directory.rglob("*.tmp"))


def test_a_change_renders_only_the_incident_pages_it_touched(
    engine: sa.Engine,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = seed_status(sessions, clock)
    directory = tmp_path / "status"
    with TestClient(status_app(engine, clock, status_export_dir=str(directory))) as client:
        pages = site_of(client).pages
        rendered: list[str] = []
        render = pages.incident

        def counted(found: PublicIncident, context: PageContext) -> str:
            rendered.append(found.ref)
            return render(found, context)

        monkeypatch.setattr(pages, "incident", counted)
        export_now(client)
        assert sorted(rendered) == ["INC-1", "INC-2", "INC-3", "INC-4"]
        for command, touched in (
            ('update INC-2 "Le code si stanno smaltendo"', ["INC-2"]),
            ("edit INC-1 --update 1 Guasto DNS risolto", ["INC-1"]),
            ("components rename dns Risoluzione nomi", ["INC-1", "INC-4"]),
            ('note INC-2 "solo per noi"', []),
        ):
            rendered.clear()
            clock.advance(minutes=1)
            run(ctx, command)
            export_now(client)
            assert sorted(rendered) == touched, command
        copy = files_in(directory)
        for path in INCIDENT_PAGES:
            assert copy[str(file_for(path))] == client.get(path).content, path


@pytest.fixture
def static_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A plain static web server (Python's http.server) on a directory, and its base URL."""
    directory = tmp_path / "served"
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield directory, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_plain_static_server_serves_the_copy_with_working_links(
    engine: sa.Engine,
    sessions: sessionmaker[Session],
    clock: FakeClock,
    static_server: tuple[Path, str],
) -> None:
    seed_status(sessions, clock)
    directory, base = static_server
    with TestClient(status_app(engine, clock, status_export_dir=str(directory))) as client:
        export_now(client)
        live = {path: client.get(path).content for path in EXPORTED}
    with httpx.Client(base_url=base, follow_redirects=True) as static:
        for path in EXPORTED:
            served = static.get(path)
            assert served.status_code == 200, path
            assert served.content == live[path], path
        home = static.get("/").text
        links = set(re.findall(r'href="(/[^"#]*)"', home))
        assert "/incidents/INC-2" in links
        for link in links:
            assert static.get(link).status_code == 200, link


def test_a_file_is_replaced_whole_never_seen_half_written(tmp_path: Path) -> None:
    target = tmp_path / "feed.atom"
    bodies = (b"a" * 2_000_000, b"b" * 3_000_000)
    write_atomically(target, bodies[0])
    seen: set[bytes] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            data = target.read_bytes()
            whole = data.strip(data[:1]) == b""
            seen.add(data[:1] + str(len(data)).encode() if whole else b"mixed")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(30):
            assert write_atomically(target, bodies[(n + 1) % 2])
    finally:
        done.set()
        reader.join()
    assert seen
    assert seen <= {b"a2000000", b"b3000000"}
    assert not write_atomically(target, bodies[0])  # unchanged: not written again
    assert [p.name for p in tmp_path.iterdir()] == ["feed.atom"]
    assert target.stat().st_mode & 0o777 == 0o644


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "api" / "v2" / "summary.json"
    write_atomically(target, b"{}")

    def refuse(source: str, destination: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("bot.status.export.os.replace", refuse)
    with pytest.raises(OSError, match="No space"):
        write_atomically(target, b'{"page": 1}')
    assert target.read_bytes() == b"{}"
    assert [p.name for p in target.parent.iterdir()] == ["summary.json"]


def test_one_process_at_a_time_writes_a_directory(
    engine: sa.Engine, clock: FakeClock, tmp_path: Path
) -> None:
    directory = tmp_path / "status"
    first = TestClient(status_app(engine, clock, status_export_dir=str(directory)))
    second = TestClient(status_app(engine, clock, status_export_dir=str(directory)))
    exports = [StatusExport(site_of(c), directory) for c in (first, second)]
    (directory / "sub").mkdir(parents=True)
    (directory / "sub" / ".index.html.x1.tmp").write_bytes(b"half")
    assert exports[0]._lead()
    assert not exports[1]._lead()
    assert not list(directory.rglob("*.tmp"))  # a killed writer's leftovers are cleared
    exports[0].close()
    assert exports[1]._lead()
    exports[1].close()


def test_paths_map_to_files_a_static_server_finds() -> None:
    assert str(file_for("/")) == "index.html"
    assert str(file_for("/incidents/INC-7")) == "incidents/INC-7/index.html"
    assert str(file_for("/feed.atom")) == "feed.atom"
    assert str(file_for("/api/v2/incidents/unresolved.json")) == "api/v2/incidents/unresolved.json"


def test_a_link_planted_in_the_copy_cannot_send_a_write_elsewhere(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock, tmp_path: Path
) -> None:
    ctx = seed_status(sessions, clock)
    directory, elsewhere = tmp_path / "status", tmp_path / "elsewhere"
    (directory / "incidents").mkdir(parents=True)
    elsewhere.mkdir()
    (directory / "incidents" / "INC-2").symlink_to(elsewhere)
    (elsewhere / "feed.atom").write_text("theirs")
    (directory / "feed.atom").symlink_to(elsewhere / "feed.atom")
    with TestClient(status_app(engine, clock, status_export_dir=str(directory))) as client:
        export_now(client)
        assert list(elsewhere.iterdir()) == [elsewhere / "feed.atom"]
        assert (elsewhere / "feed.atom").read_text() == "theirs"
        # The link in a file's place was replaced by the file, not written through.
        assert not (directory / "feed.atom").is_symlink()
        assert (directory / "incidents" / "INC-1" / "index.html").is_file()
        # Once the link is gone, the page refused before is written at the next change.
        (directory / "incidents" / "INC-2").unlink()
        (directory / "incidents" / "INC-1" / "index.html").unlink()  # deleted by hand
        clock.advance(minutes=1)
        run(ctx, 'note INC-3 "solo per noi"')
        export_now(client)
        assert (directory / "incidents" / "INC-2" / "index.html").is_file()
        assert (directory / "incidents" / "INC-1" / "index.html").is_file()
    assert list(elsewhere.iterdir()) == [elsewhere / "feed.atom"]
