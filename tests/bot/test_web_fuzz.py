"""Whatever a client sends to the web app, it gets no 5xx, and only a signed Slack request
may change the data.

The app is built as `herald serve` builds it (the Slack route against the fake Slack,
then /metrics) on a seeded database, and driven over raw ASGI on the TestClient's loop:
TestClient itself re-encodes header values as UTF-8, so bytes such as a lone 0xff, which
a real server passes through, would never reach the app.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message

from bot.database import Database
from bot.metrics import metrics_route
from bot.slack.setup import SlackFrontEnd, build_slack, ensure_incident_channel
from bot.slack.thread import EDIT_BUTTON, NOTE_BUTTON, RESOLVE_BUTTON, UPDATE_BUTTON
from bot.status.statuspage_api import DOCUMENTS
from bot.web import create_app
from storage.engine import make_session_factory
from tests.factories import FakeClock
from tests.fakes.slack import FakeSlack
from tests.slack.helpers import ALICE, INCIDENTS, TOKEN, WAR_ROOM, sign, slack_settings
from tests.status.helpers import seed_status

pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=250,
    deadline=None,
    derandomize=True,
    database=None,
    # One app and database serve every example on purpose: that state carrying over
    # (caches, remembered trigger ids) is part of what is under test.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EVENTS = "/slack/events"
ROUTES = [
    "/",
    "/incidents/INC-2",
    "/incidents/1",
    "/feed.atom",
    "/feed.rss",
    "/feed.json",
    "/maintenance.ics",
    *(f"/api/v2/{name}" for name in DOCUMENTS),
    "/healthz",
    "/metrics",
    EVENTS,
]
UNKNOWN = [
    "/static/style.css",
    "/favicon.ico",
    "/robots.txt",
    "/incidents/",
    "/incidents/INC-2/",
    "/api/v2/",
    "/api/v2/nothing.json",
    "/telegram/webhook",
    "/subscribe",
    "//",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/slack/events/",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"]
TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NOW = int(time.time())
METRICS_TOKEN = "fuzz-metrics-token"

# ---- pieces of requests


def _header_bytes(raw: bytes) -> bytes:
    # What an HTTP/1.1 server lets through: no CR, LF, NUL or other controls but tab,
    # no surrounding whitespace; bytes over 0x7f are obs-text and allowed.
    return bytes(b for b in raw if b == 9 or 0x20 <= b != 0x7F).strip(b" \t")


GARBAGE_TEXT = st.text(max_size=60)
GARBAGE_BYTES = st.binary(max_size=80).map(_header_bytes)
HUGE = st.sampled_from([b"9" * 400, b"v0=" + b"0" * 10_000, "é".encode() * 2000])
NUMBERS = st.sampled_from(["0", "-1", "1e10", "nan", "inf", "99999999999999999999", "１２３"])


def _text(values: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    return values.map(lambda text: _header_bytes(text.encode()))


def _values(*specific: str) -> st.SearchStrategy[bytes]:
    """A header's plausible values mixed with any text, any bytes and huge values."""
    return st.one_of(
        _text(st.sampled_from(specific)) if specific else st.nothing(),
        _text(GARBAGE_TEXT),
        GARBAGE_BYTES,
        HUGE,
        _text(NUMBERS),
    )


HTTP_DATES = st.sampled_from(
    [
        "Tue, 28 Jan 2025 13:50:00 GMT",
        "Sat, 01 Jan 2000 00:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Mon, 01 Jan 0001 00:00:00 GMT",
        "Tue, 28 Jan 2025 13:50:00 +9999",
        "Tue, 28 Jan 2025 13:50:00",
        "Tue, 99 Foo 2025 99:99:99 GMT",
        "Tuesday, 28-Jan-25 13:50:00 GMT",
        "Tue Jan 28 13:50:00 2025",
        "28 Jan 2025",
        "Tue, 28 Jan 99999999999999999999 13:50:00 GMT",
        ", , , ,",
    ]
)
HEADERS: dict[str, st.SearchStrategy[bytes]] = {
    "if-none-match": _values("*", '"abc"', 'W/"x", "y"', "W/", '"', ",,,", 'W/"' + "a" * 500),
    "if-modified-since": st.one_of(_text(HTTP_DATES), _values()),
    "accept-encoding": _values("gzip", "gzip;q=abc", "gzip;q=nan", "*;q=1e999", "gzip;;q=;", "*"),
    "accept-language": _values("it", "en-GB;q=0.5", "de;q=nan, it;q=-1", "*", ";q=1", "-"),
    "content-type": _values(
        "application/json",
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=latin-1",
        "multipart/form-data; boundary=",
        "text/plain",
    ),
    "content-encoding": _values("gzip", "br", "deflate"),
    "authorization": _values(
        f"Bearer {METRICS_TOKEN}", "Bearer ", "Bearer é", "Basic Og==", "bearer " + "x" * 300
    ),
    "x-slack-request-timestamp": _values(str(NOW), str(NOW - 10_000), "", "-0", " 1", "9" * 40),
    "x-slack-signature": _values("v0=", "v0=" + "0" * 64, "v0=è" + "0" * 63, "v1=" + "0" * 64),
    "x-slack-retry-num": _values("1", "x"),
    "cookie": _values("a=b", "=;;=", "a"),
    "range": _values("bytes=0-1", "bytes=-1", "bytes=9-0"),
    "x-forwarded-for": _values("1.2.3.4", "::1", "unknown"),
}


def _header_lists(names: list[str], most: int) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    """Up to `most` of these headers (repeats allowed), each with any of its values."""
    one = st.sampled_from(names).flatmap(
        lambda name: HEADERS[name].map(lambda value: (name.encode(), value))
    )
    return st.lists(one, max_size=most)


HEADER_LISTS = _header_lists(sorted(HEADERS), 6)

QUERY_KEYS = ["lang", "component", "page", "per_page", "limit", "since", "q", "incident"]
QUERY_VALUES = st.one_of(
    st.sampled_from(["it", "en", "EN", "posta", "dns", "web", "0", "-1", "1" * 30, ""]),
    GARBAGE_TEXT.map(lambda text: quote(text, safe="")),
    st.sampled_from(["%ff", "%fe%ff", "%c3", "%", "%zz", "%00", "%E2%80%AE", "%2525"]),
)
QUERIES = st.lists(
    st.tuples(st.sampled_from(QUERY_KEYS) | GARBAGE_TEXT.map(quote), QUERY_VALUES), max_size=5
).map(lambda pairs: "&".join(f"{key}={value}" for key, value in pairs).encode())

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=12,
)
PAYLOAD_TYPES = ["block_actions", "view_submission", "view_closed", "shortcut", "event_callback"]
BUTTONS = [UPDATE_BUTTON, RESOLVE_BUTTON, NOTE_BUTTON, EDIT_BUTTON]
BUTTON_VALUES = st.one_of(
    st.sampled_from(["99999999999999999999", "abc", "-1", "", "1e5", "2", "INC-2", "0x10"]),
    GARBAGE_TEXT,
    st.integers(),
    st.none(),
)


def button_press(
    action_id: str, value: object, *, user: str = ALICE, trigger_id: str, response_url: str = ""
) -> dict[str, Any]:
    """The block_actions payload of a button under an incident message."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": "alice"},
        "channel": {"id": WAR_ROOM},
        "team": {"id": "T0HERALD"},
        "trigger_id": trigger_id,
        "actions": [{"action_id": action_id, "value": value}],
    }
    if response_url:
        payload["response_url"] = response_url
    return payload


BUTTON_PRESSES = st.builds(
    button_press,
    st.sampled_from(BUTTONS),
    BUTTON_VALUES,
    user=st.sampled_from([ALICE, "U0NOBODY", ""]),
    trigger_id=st.integers(0, 10**9).map(lambda n: f"fuzz.{n}"),
)


def _form(fields: dict[str, Any]) -> bytes:
    return urlencode({key: str(value) for key, value in fields.items()}).encode()


BODIES = st.one_of(
    st.just(b""),
    st.binary(max_size=300),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.sampled_from([b"{", b"[1,2,3]", b"null", b"\xff\xfe", b'{"type": 1}', b"payload="]),
    st.sampled_from(["{not json", "[]", "null", "1", '"x"', "{}"]).map(
        lambda payload: b"payload=" + payload.encode()
    ),
    st.sampled_from([b"payload=%ff", b"payload=%", b"payload&payload", b"ssl_check=1"]),
    JSON_VALUES.map(lambda value: _form({"payload": json.dumps(value)})),
    st.dictionaries(st.sampled_from(PAYLOAD_TYPES), JSON_VALUES).map(
        lambda extra: _form({"payload": json.dumps({"type": "block_actions", **extra})})
    ),
    BUTTON_PRESSES.map(lambda payload: _form({"payload": json.dumps(payload)})),
    st.dictionaries(st.sampled_from(["command", "text", "user_id", "trigger_id"]), GARBAGE_TEXT)
    .map(lambda fields: {**fields, "command": "/incident"} if "text" in fields else fields)
    .map(_form),
    # Past the 1 MiB that /slack/events reads, without a lying Content-Length.
    st.sampled_from([70_000, 1024 * 1024 + 1]).map(lambda size: b"x" * size),
)

# ---- requests


@dataclass(frozen=True)
class Probe:
    """One request as a server would hand it to the app."""

    method: str
    path: bytes
    query: bytes = b""
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""
    chunks: int = 1
    signed: bool = False

    def __repr__(self) -> str:
        target = self.path + (b"?" + self.query if self.query else b"")
        lines = [f"{self.method} {target!r} ({'signed' if self.signed else 'unsigned'})"]
        lines += [f"  {name.decode()}: {value!r}" for name, value in self.headers]
        shown = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        lines.append(f"  body ({len(self.body)} bytes): {shown!r}")
        return "\n".join(lines)


@dataclass(frozen=True)
class Answer:
    """What the app sent back."""

    status: int
    body: bytes


INCIDENT_REFS = st.one_of(
    GARBAGE_TEXT.map(lambda ref: quote(ref, safe="")),
    st.sampled_from(["%ff", "INC-%00", "inc-" + "9" * 30, "%2F", "..", "%", "INC-0", "-1"]),
).map(lambda ref: "/incidents/" + ref)
ANY_PATH = GARBAGE_TEXT.map(lambda rest: "/" + quote(rest, safe="/"))


@st.composite
def unsigned_requests(draw: st.DrawFn) -> Probe:
    """Any method, path, query, headers and body, with no valid Slack signature.

    Mostly the routes with the methods they take, so most requests get past routing.
    """
    where = draw(st.integers(0, 9))
    if where < 6:
        path = draw(st.sampled_from(ROUTES))
    elif where < 7:
        path = draw(st.sampled_from(UNKNOWN))
    else:
        path = draw(INCIDENT_REFS if where < 9 else ANY_PATH)
    how = draw(st.integers(0, 9))
    if how < 7:
        usual = ["POST"] if path == EVENTS else ["GET", "GET", "HEAD"]
        method = draw(st.sampled_from(usual))
    else:
        method = draw(st.sampled_from(METHODS) | st.text(TOKEN_CHARS, min_size=1, max_size=12))
    return Probe(
        method=method,
        path=path.encode(),
        query=draw(QUERIES),
        headers=tuple(draw(HEADER_LISTS)),
        body=draw(BODIES) if method not in ("GET", "HEAD") or draw(st.booleans()) else b"",
        chunks=draw(st.integers(1, 3)),
    )


def signed(
    body: bytes, *, content_type: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> Probe:
    """A POST to /slack/events that Slack could have sent: signed now with the known secret."""
    stamp = int(time.time())
    return Probe(
        method="POST",
        path=EVENTS.encode(),
        headers=(
            (b"content-type", content_type),
            (b"x-slack-request-timestamp", str(stamp).encode()),
            (b"x-slack-signature", sign(body, stamp).encode()),
            *extra,
        ),
        body=body,
        signed=True,
    )


@st.composite
def signed_requests(draw: st.DrawFn) -> Probe:
    """A correctly signed Slack request whose body may be anything at all."""
    content_type = draw(
        _text(st.sampled_from(["application/x-www-form-urlencoded", "application/json", ""]))
        | GARBAGE_BYTES
    )
    extra = tuple(draw(_header_lists(["accept-encoding", "x-slack-retry-num"], 2)))
    return signed(draw(BODIES), content_type=content_type, extra=extra)


# ---- the app under test


@dataclass
class FuzzSite:
    """The web app as served, the fake Slack behind it, and errors logged while in use."""

    http: TestClient
    app: ASGIApp
    slack: FakeSlack
    database: Database
    front: SlackFrontEnd
    errors: list[logging.LogRecord] = field(default_factory=list)

    def send(self, probe: Probe) -> Answer:
        """Hand the request to the app; wait for any work it started in the background."""
        assert self.http.portal is not None
        return self.http.portal.call(self._send, probe)

    async def _send(self, probe: Probe) -> Answer:
        self.errors.clear()
        before = asyncio.all_tasks()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": probe.method,
            "scheme": "http",
            "path": unquote(probe.path.decode("ascii")),
            "raw_path": probe.path,
            "query_string": probe.query,
            "root_path": "",
            "headers": [(b"host", b"testserver"), *probe.headers],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }
        size = -(-len(probe.body) // probe.chunks) or 1
        pieces = [probe.body[i : i + size] for i in range(0, len(probe.body), size)] or [b""]
        messages: list[Message] = [
            {"type": "http.request", "body": piece, "more_body": n < len(pieces) - 1}
            for n, piece in enumerate(pieces)
        ]
        sent: list[Message] = []

        async def receive() -> Message:
            if messages:
                return messages.pop(0)
            await asyncio.sleep(3600)  # no disconnect while the app answers
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            sent.append(message)

        try:
            await self.app(scope, receive, send)
        except Exception:
            logging.getLogger(__name__).exception("the app raised")
        started = [m for m in sent if m["type"] == "http.response.start"]
        status = started[0]["status"] if started else 500
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        later = asyncio.all_tasks() - before - {asyncio.current_task()}
        if later:
            await asyncio.wait(later, timeout=10)
        return Answer(status, body)

    def fingerprint(self) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """Every row of every table: the requests under test touch a few dozen at most."""
        with self.database.engine.connect() as connection:
            return [
                (
                    table.name,
                    [
                        tuple(row)
                        for row in connection.execute(
                            sa.select(table).order_by(*table.primary_key.columns)
                        )
                    ],
                )
                for table in SQLModel.metadata.sorted_tables
            ]

    def unexpected(self) -> list[str]:
        """Errors logged since the last look, as one line each; forgets them."""
        lines = [f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" for r in self.errors if r.exc_info]
        self.errors.clear()
        return lines


class _Collect(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.ERROR)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture
def site(engine: sa.Engine, clock: FakeClock) -> Iterator[FuzzSite]:
    """Components, incidents and maintenance; the app with Slack and /metrics mounted."""
    with FakeSlack(token=TOKEN, per_channel_per_second=None, workspace_per_second=None) as fake:
        for channel in (INCIDENTS, WAR_ROOM):
            fake.add_channel(channel)
        fake.add_user(ALICE, "alice")
        settings = slack_settings(fake, metrics_token=METRICS_TOKEN)
        database = Database(engine, make_session_factory(engine))
        seed_status(database.sessions, clock)
        ensure_incident_channel(settings, database)
        front = build_slack(settings, database, clock=clock)
        routes = [front.route(), metrics_route(database, METRICS_TOKEN)]
        app = create_app(settings, database, routes, clock=clock, recheck_seconds=0.0)
        errors: list[logging.LogRecord] = []
        handler = _Collect(errors)
        logging.getLogger().addHandler(handler)
        try:
            with TestClient(app) as http:
                yield FuzzSite(http, app, fake, database, front, errors)
                assert http.portal is not None
                http.portal.call(front.close)
        finally:
            logging.getLogger().removeHandler(handler)


FORM = b"application/x-www-form-urlencoded"


# ---- the tests


def _judge(site: FuzzSite, probe: Probe, answer: Answer) -> None:
    event(f"{answer.status} {'known route' if probe.path.decode() in ROUTES else 'other path'}")
    assert answer.status < 500, f"{answer.status} {answer.body[:300]!r} for\n{probe!r}"
    unexpected = site.unexpected()
    assert not unexpected, f"errors logged for\n{probe!r}:\n" + "\n".join(unexpected)


@FUZZ
@given(probe=unsigned_requests())
def test_no_request_gets_a_5xx_or_changes_any_data(site: FuzzSite, probe: Probe) -> None:
    before = site.fingerprint()
    answer = site.send(probe)
    _judge(site, probe, answer)
    assert site.fingerprint() == before, f"data changed by an unsigned request:\n{probe!r}"


@settings(FUZZ, max_examples=150)
@given(probe=signed_requests())
def test_a_signed_slack_request_with_any_body_gets_no_5xx(site: FuzzSite, probe: Probe) -> None:
    answer = site.send(probe)
    _judge(site, probe, answer)


MALFORMED = {
    "json garbage": (b"{garbage", b"application/json"),
    "json list": (b"[1,2,3]", b"application/json"),
    "json null": (b"null", b"application/json"),
    "payload not json": (b"payload={not json", FORM),
    "payload list": (b"payload=[]", FORM),
    "payload null": (b"payload=null", FORM),
    "payload not utf-8": (b"payload=%ff", FORM),
    "body not utf-8": (b"\xff\xfe", FORM),
    # Read as bolt reads them: a body starting with "{" is JSON whatever its Content-Type,
    # blank form values are kept, and the last `payload` wins.
    "form body starting with {": (b"{", FORM),
    "form body that is a JSON list after {": (b"{1,2}", FORM),
    "empty payload": (b"payload=", FORM),
    "payload without =": (b"payload", FORM),
    "payload with no content type": (b"payload=", b""),
    "second payload not an object": (b"payload={}&payload=[]", FORM),
}


@pytest.mark.parametrize(("body", "content_type"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_signed_malformed_body_gets_400(site: FuzzSite, body: bytes, content_type: bytes) -> None:
    answer = site.send(signed(body, content_type=content_type))
    assert answer.status == 400, answer
    assert site.unexpected() == []


@pytest.mark.parametrize("value", ["99999999999999999999", "abc", "1e5", "-1", "", "INC-999"])
@pytest.mark.parametrize("button", BUTTONS)
def test_a_button_with_a_bad_incident_number_gets_a_polite_answer(
    site: FuzzSite, button: str, value: str
) -> None:
    url = site.slack.response_url()
    payload = button_press(button, value, trigger_id=site.slack.trigger_id(), response_url=url)
    answer = site.send(signed(_form({"payload": json.dumps(payload)}), content_type=FORM))
    assert answer.status == 200, answer
    url_id = url.rsplit("/", 1)[-1]
    texts = [
        str(call.params.get("text"))
        for call in site.slack.calls("response_url")
        if call.params.get("url_id") == url_id
    ]
    assert len(texts) == 1
    assert "something went wrong" not in texts[0], texts[0]
    assert site.unexpected() == []
    assert site.slack.views == []
