"""Validators, 304s, gzip, and one render per data change however many readers come."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from tests.factories import FakeClock, make_context, run
from tests.status.helpers import seed_status, site_of, status_app, status_client

CACHED_PATHS = (
    "/",
    "/incidents/INC-2",
    "/feed.atom",
    "/feed.rss",
    "/feed.json",
    "/maintenance.ics",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
)


@pytest.mark.parametrize("path", CACHED_PATHS)
def test_every_page_and_feed_has_validators_and_answers_304(
    path: str, engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    first = client.get(path)
    assert first.status_code == 200
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert re.fullmatch(r'"[0-9a-f]{24}(-gz)?"', etag)
    assert parsedate_to_datetime(modified).tzinfo is not None
    assert first.headers["cache-control"] == "public, max-age=30, stale-if-error=86400"
    by_etag = client.get(path, headers={"If-None-Match": etag})
    assert by_etag.status_code == 304
    assert by_etag.content == b""
    assert by_etag.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": f'W/{etag}, "other"'}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(modified).replace(year=2000), usegmt=True)
    assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match decides when both are sent (RFC 9110).
    both = {"If-None-Match": '"stale"', "If-Modified-Since": modified}
    assert client.get(path, headers=both).status_code == 200


@pytest.mark.parametrize("path", ["/", "/incidents/INC-2", "/feed.atom", "/api/v2/summary.json"])
def test_if_modified_since_in_the_future_is_ignored(
    path: str, engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    modified = parsedate_to_datetime(client.get(path).headers["last-modified"])
    # A day after the site's clock but long past by the wall clock: only the site's
    # clock may say what "the future" is (RFC 9110 section 13.1.3).
    tomorrow = format_datetime(clock() + timedelta(days=1), usegmt=True)
    assert modified <= clock()
    assert client.get(path, headers={"If-Modified-Since": tomorrow}).status_code == 200
    far = format_datetime(clock().replace(year=2999), usegmt=True)
    assert client.get(path, headers={"If-Modified-Since": far}).status_code == 200
    now = format_datetime(clock(), usegmt=True)
    assert client.get(path, headers={"If-Modified-Since": now}).status_code == 304


@pytest.mark.parametrize(
    "since",
    [
        "Tue, 28 Jan 99999999999999999999 13:50:00 GMT",
        "Mon, 01 Jan 0001 00:00:00 GMT",
        "Tue, 99 Foo 2025 99:99:99 GMT",
        "Tue, 28 Jan 2025 13:50:00",
        "yesterday",
        "",
    ],
)
def test_an_unreadable_if_modified_since_is_ignored(
    since: str, engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    assert client.get("/", headers={"If-Modified-Since": since}).status_code == 200


def test_gzip_is_served_precompressed_with_its_own_etag(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    plain = client.get("/feed.atom", headers={"Accept-Encoding": "identity"})
    packed = client.get("/feed.atom", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == plain.content  # httpx undoes the gzip
    assert int(packed.headers["content-length"]) < len(plain.content) / 2
    assert packed.headers["etag"] != plain.headers["etag"]
    refused = client.get("/feed.atom", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused.headers
    # A client holding the plain body may revalidate it while asking for gzip.
    again = client.get(
        "/feed.atom", headers={"Accept-Encoding": "gzip", "If-None-Match": plain.headers["etag"]}
    )
    assert again.status_code == 304


def test_etag_and_last_modified_move_with_an_update_and_an_edit(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = seed_status(sessions, clock)
    client = status_client(engine, clock)
    paths = ("/", "/feed.atom", "/api/v2/summary.json", "/incidents/INC-2")
    before = {p: client.get(p).headers["etag"] for p in paths}
    clock.advance(minutes=10)
    run(ctx, 'update INC-2 "Le code si stanno smaltendo"')
    after_update = {p: client.get(p) for p in paths}
    for path in paths:
        assert after_update[path].headers["etag"] != before[path], path
        stale = client.get(path, headers={"If-None-Match": before[path]})
        assert stale.status_code == 200
        assert "Le code si stanno smaltendo" in stale.text
    clock.advance(minutes=10)
    run(ctx, 'edit INC-2 "Le code sono state smaltite"')
    edited = client.get("/incidents/INC-2")
    assert edited.headers["etag"] != after_update["/incidents/INC-2"].headers["etag"]
    assert "Le code sono state smaltite" in edited.text
    assert "(corretto)" in edited.text


def test_a_page_is_rendered_once_until_the_data_changes(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = seed_status(sessions, clock)
    client = status_client(engine, clock)
    site = site_of(client)
    for _ in range(5):
        assert client.get("/feed.atom").status_code == 200
    assert site.cache.renders == 1
    client.get("/feed.atom?lang=en")
    client.get("/feed.atom?component=posta")
    assert site.cache.renders == 3
    client.get("/feed.atom")
    assert site.cache.renders == 3
    run(ctx, 'update INC-2 "Novità"')
    client.get("/feed.atom")
    client.get("/feed.atom")
    assert site.cache.renders == 4
    # A note changes nothing customers see, yet costs at most one render per page.
    run(ctx, 'note INC-2 "solo per noi"')
    client.get("/feed.atom")
    client.get("/feed.atom")
    assert site.cache.renders == 5


def test_unknown_ids_and_components_are_not_cached(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    site = site_of(client)
    for n in range(20):
        assert client.get(f"/incidents/INC-{100 + n}").status_code == 404
        assert client.get(f"/feed.atom?component=nope{n}").status_code == 404
    assert len(site.cache) == 0
    assert client.get("/incidents/INC-2").status_code == 200
    assert len(site.cache) == 1


def test_a_storm_of_readers_costs_one_render_and_one_lookup(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    app = status_app(engine, clock, recheck_seconds=60)
    site = app.state.status_site

    async def storm() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*(client.get("/") for _ in range(40)))

    responses = asyncio.run(storm())
    assert {r.status_code for r in responses} == {200}
    assert len({r.headers["etag"] for r in responses}) == 1
    assert site.cache.renders == 1
    assert site.watch.lookups == 1


def test_within_the_recheck_interval_readers_get_the_known_version(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "components add posta Posta")
    client = status_client(engine, clock, recheck_seconds=3600)
    first = client.get("/api/v2/status.json")
    run(ctx, "open Posta lenta --sev 1 --components posta")
    # Still the known version: the interval bounds how stale a page may be.
    assert client.get("/api/v2/status.json").headers["etag"] == first.headers["etag"]
    assert site_of(client).watch.lookups == 1


def test_home_refreshes_as_time_passes_keeping_one_body_per_language(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    site = site_of(client)
    first = client.get("/")
    client.get("/")
    assert site.cache.renders == 1
    # Ongoing incidents age and days roll over: the page follows without any new data.
    clock.advance(minutes=6)
    later = client.get("/")
    assert site.cache.renders == 2
    assert later.headers["etag"] != first.headers["etag"]
    assert 'Aggiornato <time datetime="2025-01-28T14:06:00+00:00">' in later.text
    client.get("/?lang=en")
    clock.advance(minutes=6)
    client.get("/")
    assert len(site.cache) == 2
