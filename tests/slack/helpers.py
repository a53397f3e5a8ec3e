"""Signed Slack requests through the real web app, with the fake Slack Web API behind it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx2 as httpx
import sqlalchemy as sa
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from bot.database import Database
from bot.delivery.limits import RateSettings, Unlimited
from bot.delivery.setup import build_worker, close_senders
from bot.settings import Settings
from bot.slack.setup import SlackFrontEnd, build_slack, ensure_incident_channel
from bot.web import create_app
from commands.context import Actor, Context
from storage.engine import make_session_factory
from storage.models import AuditEvent, Incident
from tests.factories import FakeClock, make_context, run
from tests.fakes.slack import FakeSlack

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"
INCIDENTS = "C0INCIDENTS"
CUSTOMERS = "C0CUSTOMERS"
WAR_ROOM = "C0WARROOM"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"  # a responder, a viewer, a group member
ONCALL = "S0ONCALL"
PUBLIC_URL = "https://status.example.it"


def sign(body: bytes, timestamp: int, secret: str = SECRET) -> str:
    """Slack's v0 signature of a request body."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    body: bytes,
    *,
    timestamp: int | None = None,
    secret: str = SECRET,
    content_type: str = "application/x-www-form-urlencoded",
) -> dict[str, str]:
    """The headers of a request to /slack/events, signed as Slack signs (now, by default)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": sign(body, stamp, secret),
    }


@dataclass
class SlackWorld:
    """The web app with Slack mounted, the fake Slack, the database and the fake clock."""

    http: TestClient
    slack: FakeSlack
    settings: Settings
    database: Database
    clock: FakeClock
    front: SlackFrontEnd | None = None

    # ---- requests

    def post(
        self,
        body: bytes,
        *,
        content_type: str = "application/x-www-form-urlencoded",
        timestamp: int | None = None,
        secret: str = SECRET,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST to /slack/events, signed as Slack signs."""
        sent = signed_headers(body, timestamp=timestamp, secret=secret, content_type=content_type)
        return self.http.post("/slack/events", content=body, headers={**sent, **(headers or {})})

    def command_body(
        self, text: str, *, user: str = ALICE, name: str = "alice", channel: str = WAR_ROOM
    ) -> dict[str, str]:
        """The form fields of `/incident TEXT`, with a fresh trigger_id and response_url."""
        return {
            "token": "deprecated",
            "team_id": "T0HERALD",
            "team_domain": "herald",
            "channel_id": channel,
            "channel_name": "war-room",
            "user_id": user,
            "user_name": name,
            "command": "/incident",
            "text": text,
            "response_url": self.slack.response_url(),
            "trigger_id": self.slack.trigger_id(),
            "api_app_id": "A0HERALD",
        }

    def command(self, text: str, **kwargs: Any) -> tuple[httpx.Response, str]:
        """Send `/incident TEXT`; return the HTTP response and the command's response_url."""
        fields = self.command_body(text, **kwargs)
        response = self.post(urlencode(fields).encode())
        return response, fields["response_url"]

    def interact(self, payload: dict[str, Any]) -> httpx.Response:
        """Send an interaction payload (a button, a modal submission)."""
        return self.post(urlencode({"payload": json.dumps(payload)}).encode())

    # ---- what Slack saw

    def answers(
        self, response_url: str, count: int = 1, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """The messages posted to a response_url, once `count` have arrived."""
        url_id = response_url.rsplit("/", 1)[-1]

        def posted() -> list[dict[str, Any]]:
            return [
                r.params
                for r in self.slack.calls("response_url")
                if r.params.get("url_id") == url_id
            ]

        assert wait_until(lambda: len(posted()) >= count, timeout), (
            f"no answer on {url_id}: {posted()}"
        )
        return posted()

    def answer_text(self, response_url: str, count: int = 1) -> str:
        """The text of the last of `count` answers on a response_url, blocks included."""
        answer = self.answers(response_url, count)[-1]
        return json.dumps(answer, ensure_ascii=False)

    def opened_view(self, count: int = 1, timeout: float = 5.0) -> dict[str, Any]:
        """The last view opened with views.open, once `count` were opened."""
        assert wait_until(lambda: len(self.views("views.open")) >= count, timeout), (
            "no modal opened"
        )
        return self.views("views.open")[-1]["view"]  # type: ignore[no-any-return]

    def views(self, method: str) -> list[dict[str, Any]]:
        """views.open / views.update calls the fake received."""
        return [v for v in self.slack.views if v["method"] == method]

    # ---- the rest of Herald

    def context(self, actor: Actor | None = None) -> Context:
        """A CLI-like context on the same database and clock."""
        return make_context(self.database.sessions, self.clock, actor=actor or Actor("ops", "cli"))

    def run(self, text: str) -> str:
        """Run a command as an operator at the CLI."""
        return run(self.context(), text).text

    def deliver(self, rounds: int = 10, step: float = 2.0) -> None:
        """Run the delivery worker against the fake Slack until nothing is due."""

        async def main() -> None:
            worker = build_worker(
                self.settings,
                self.database,
                clock=self.clock,
                limits=Unlimited(RateSettings(), clock=self.clock),
            )
            try:
                for _ in range(rounds):
                    await worker.drain()
                    self.clock.advance(seconds=step)
            finally:
                await close_senders(worker)

        asyncio.run(main())

    def incidents(self) -> list[Incident]:
        """Every incident saved."""
        with self.database.sessions() as session:
            return list(session.exec(select(Incident).order_by(col(Incident.id))).all())

    def audit(self) -> list[AuditEvent]:
        """Every audit event."""
        with self.database.sessions() as session:
            return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all())


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll for background work with a deadline (the app answers Slack before it finishes)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def slack_settings(slack: FakeSlack, **overrides: Any) -> Settings:
    """Settings with Slack on, pointed at the fake."""
    values: dict[str, Any] = {
        "slack_bot_token": TOKEN,
        "slack_signing_secret": SECRET,
        "slack_api_url": slack.api_url,
        "slack_incident_channel": INCIDENTS,
        "slack_responders": [ALICE, ONCALL],
        "public_url": PUBLIC_URL,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@contextmanager
def start_world(
    engine: sa.Engine,
    clock: FakeClock,
    slack: FakeSlack,
    *,
    slack_database: Database | None = None,
    deadline: float = 2.5,
    **overrides: Any,
) -> Iterator[SlackWorld]:
    """The web app as `herald serve` builds it, with the Slack route mounted, while in use."""
    settings = slack_settings(slack, **overrides)
    database = Database(engine, make_session_factory(engine))
    ensure_incident_channel(settings, database)
    front = build_slack(settings, slack_database or database, clock=clock, deadline=deadline)
    app = create_app(settings, database, [front.route()], clock=clock, recheck_seconds=0.0)
    with TestClient(app) as http:
        yield SlackWorld(http, slack, settings, database, clock, front)
        assert http.portal is not None
        http.portal.call(front.close)


def add_customer_channel(world: SlackWorld) -> None:
    """A Slack customer channel (Italian) and the component `posta`."""
    world.run("components add posta Posta")
    world.run(f"channels add slack {CUSTOMERS} --lang it")


def session_of(world: SlackWorld) -> Session:
    """A session on the world's database."""
    return world.database.sessions()
