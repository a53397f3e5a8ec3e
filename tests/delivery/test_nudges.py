"""How a quiet-incident nudge reads in the incident channels: a nudge with its command as code
and an Update button, never an internal note; customers' channels get no delivery of it."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from bot.database import Database
from bot.delivery.jobs import DeliveryJob, load_job
from bot.settings import Settings
from bot.slack.thread import UPDATE_BUTTON, incident_reply
from bot.telegram.buttons import UPDATE, Press, press_data, update_keyboard
from bot.telegram.thread import incident_reply_html
from bot.web import create_app
from commands.nudges import nudge_quiet_incidents
from storage.engine import make_session_factory
from storage.models import Audience, Channel, Delivery, Platform, Update, UpdateKind
from tests.factories import ROME, FakeClock, make_channel, make_context, make_incident, run

TITLE = "Posta <!channel> <b>giù</b> & co"
SLACK_CHANNEL = "C0INCIDENTS"
TELEGRAM_CHAT = "-1004000000004"


def _internal_channels(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        for platform, address in (
            (Platform.SLACK, SLACK_CHANNEL),
            (Platform.TELEGRAM, TELEGRAM_CHAT),
        ):
            session.add(
                Channel(platform=platform, address=address, locale="it", audience=Audience.INTERNAL)
            )


def _nudged(sessions: sessionmaker[Session], clock: FakeClock, *, resolve: bool = False) -> int:
    """An SEV2 incident quiet for 34 minutes, nudged; returns its id."""
    ctx = make_context(sessions, clock)
    make_channel(ctx)  # a customer channel following everything
    incident_id = make_incident(ctx, TITLE, sev=2)
    clock.advance(minutes=34, seconds=20)
    assert nudge_quiet_incidents(ctx, {2: 30}) == [incident_id]
    if resolve:
        run(ctx, f"resolve {incident_id} Risolto")
    return incident_id


def _nudge_job(sessions: sessionmaker[Session], platform: Platform) -> DeliveryJob:
    with sessions() as session:
        delivery_id = session.exec(
            select(Delivery.id)
            .join(Update, col(Update.id) == col(Delivery.update_id))
            .join(Channel, col(Channel.id) == col(Delivery.channel_id))
            .where(Update.kind == UpdateKind.NUDGE, Channel.platform == platform)
        ).one()
    assert delivery_id is not None
    job = load_job(sessions, delivery_id, ROME)
    assert job is not None
    return job


def test_only_the_incident_channels_get_a_delivery_of_the_nudge(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    _internal_channels(sessions)
    _nudged(sessions, clock)
    with sessions() as session:
        audiences = session.exec(
            select(Channel.audience)
            .join(Delivery, col(Delivery.channel_id) == col(Channel.id))
            .join(Update, col(Update.id) == col(Delivery.update_id))
            .where(Update.kind == UpdateKind.NUDGE)
        ).all()
    assert sorted(audiences) == [Audience.INTERNAL, Audience.INTERNAL]


def test_the_slack_nudge_reads_as_a_nudge_with_an_update_button(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    _internal_channels(sessions)
    incident_id = _nudged(sessions, clock)
    text, blocks = incident_reply(_nudge_job(sessions, Platform.SLACK))
    section, context, actions = blocks
    assert section["text"]["text"] == (
        ":alarm_clock: *Nudge* · INC-1 · Posta &lt;!channel&gt; &lt;b&gt;giù&lt;/b&gt; &amp; co\n"
        "Customers last heard from us 34 minutes ago — `/incident update INC-1 …`"
    )
    assert context["elements"][0]["text"] == "28/01/2025 ore 15:24"
    [button] = actions["elements"]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        UPDATE_BUTTON,
        str(incident_id),
        "Update",
    )
    assert actions["block_id"] == f"incident-{incident_id}"
    assert text.startswith(":alarm_clock: INC-1 · Posta &lt;!channel&gt;")
    assert "<!channel>" not in text + str(blocks)
    assert "Internal note" not in text + str(blocks)


def test_the_telegram_nudge_reads_as_a_nudge_with_its_command_as_code(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    _internal_channels(sessions)
    _nudged(sessions, clock)
    [html] = incident_reply_html(_nudge_job(sessions, Platform.TELEGRAM))
    assert html == (
        "⏰ <b>Nudge</b> · INC-1 · Posta &lt;!channel&gt; &lt;b&gt;giù&lt;/b&gt; &amp; co\n"
        "Customers last heard from us 34 minutes ago — "
        "<code>/incident update INC-1 …</code>\n"
        "<i>28/01/2025 ore 15:24</i>"
    )


def test_the_telegram_update_button_carries_the_roots_callback_data() -> None:
    [[button]] = update_keyboard(7).inline_keyboard
    assert (button.text, button.callback_data) == ("Update", press_data(Press(UPDATE, 7)))
    assert button.callback_data == "h1:u:7"


def test_a_nudge_delivered_after_the_incident_closed_has_no_update_button(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    _internal_channels(sessions)
    _nudged(sessions, clock, resolve=True)
    _, blocks = incident_reply(_nudge_job(sessions, Platform.SLACK))
    assert [b["type"] for b in blocks] == ["section", "context"]


def test_notes_still_read_as_internal_notes(
    sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    _internal_channels(sessions)
    ctx = make_context(sessions, clock)
    make_incident(ctx, TITLE)
    clock.advance(minutes=1)
    run(ctx, "note 1 solo per noi")
    with sessions() as session:
        delivery_id = session.exec(
            select(Delivery.id)
            .join(Update, col(Update.id) == col(Delivery.update_id))
            .join(Channel, col(Channel.id) == col(Delivery.channel_id))
            .where(Update.kind == UpdateKind.NOTE, Channel.platform == Platform.SLACK)
        ).one()
    assert delivery_id is not None
    job = load_job(sessions, delivery_id, ROME)
    assert job is not None
    _, blocks = incident_reply(job)
    assert blocks[0]["text"]["text"].startswith("*Internal note* #2 · alice ·")
    assert [b["type"] for b in blocks] == ["section", "context"]


def test_a_nudge_does_not_move_the_public_updated_at(engine: sa.Engine) -> None:
    sessions = make_session_factory(engine)
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))  # components date in real time
    ctx = make_context(sessions, clock)
    run(ctx, "components add posta Posta")
    make_incident(ctx, sev=2, components="posta")
    http = TestClient(
        create_app(Settings(_env_file=None), Database(engine, sessions), recheck_seconds=0.0)
    )

    def updated_at() -> list[str]:
        status = http.get("/api/v2/status.json").json()
        components = http.get("/api/v2/components.json").json()
        return [status["page"]["updated_at"], components["components"][0]["updated_at"]]

    before = updated_at()
    clock.advance(minutes=31)
    assert nudge_quiet_incidents(ctx, {2: 30}) == [1]
    assert updated_at() == before
