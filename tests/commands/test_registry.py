"""Components and channels: add, rename, remove, disable, enable."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from commands.context import Context
from commands.errors import Refused
from tests.factories import (
    FakeClock,
    make_channel,
    make_component,
    make_context,
    make_incident,
    run,
)


@pytest.fixture
def ctx(sessions: sessionmaker[Session], clock: FakeClock) -> Context:
    return make_context(sessions, clock)


def test_components_add_rename_remove(ctx: Context) -> None:
    assert "No components yet" in run(ctx, "components").text
    make_component(ctx, "posta", "Posta elettronica")
    with pytest.raises(Refused, match="exists already"):
        run(ctx, "components add posta Posta")
    run(ctx, "components rename posta Posta")
    assert "posta" in run(ctx, "components list").text
    assert "Posta elettronica" not in run(ctx, "components list").text
    run(ctx, "components remove posta")
    assert "No components yet" in run(ctx, "components list").text
    run(ctx, "components add posta Posta")
    assert "Posta" in run(ctx, "components list").text


def test_a_component_in_use_by_an_open_incident_is_kept(ctx: Context) -> None:
    make_component(ctx, "posta", "Posta")
    incident_id = make_incident(ctx, components="posta")
    with pytest.raises(Refused, match=f"open INC-{incident_id}"):
        run(ctx, "components remove posta")
    run(ctx, f"resolve {incident_id}")
    run(ctx, "components remove posta")


def test_channels_add_list_disable_enable_remove(ctx: Context) -> None:
    make_component(ctx, "posta", "Posta")
    make_channel(ctx, "-1001234567890", options="--lang en --components posta --min-sev 2")
    make_channel(ctx, "@stato_servizi")
    make_channel(ctx, "C0123ABCD", platform="slack")
    listing = run(ctx, "channels list").text
    assert "-1001234567890 [en] components posta; SEV2 and worse — enabled" in listing
    assert "@stato_servizi [it] everything" in listing
    with pytest.raises(Refused, match="already a channel"):
        make_channel(ctx, "-1001234567890")
    run(ctx, "channels disable -1001234567890 bot was kicked")
    assert "DISABLED: bot was kicked" in run(ctx, "channels list").text
    run(ctx, "channels enable #1")
    assert "DISABLED" not in run(ctx, "channels list").text
    run(ctx, "channels remove @stato_servizi")
    assert "@stato_servizi" not in run(ctx, "channels list").text
    with pytest.raises(Refused, match="There is no channel"):
        run(ctx, "channels remove @nessuno")


def test_webhook_secret_is_generated_and_shown_once(ctx: Context) -> None:
    reply = run(ctx, "channels add webhook https://example.com/hook")
    assert "Signing secret (shown once" in reply.text
    assert "Signing secret" not in run(ctx, "channels list").text
    given = run(ctx, "channels add webhook https://example.com/other --secret s3cr3t-value")
    assert "s3cr3t-value" not in given.text


def test_a_huge_channel_id_is_a_refusal_not_a_crash(ctx: Context) -> None:
    for target in ("99999999999999999999", "#99999999999999999999"):
        with pytest.raises(Refused, match="There is no channel"):
            run(ctx, f"channels enable {target}")


def test_an_old_incident_channel_cannot_be_enabled_by_hand(ctx: Context) -> None:
    from storage.channels import ensure_internal_channel
    from storage.models import Platform

    with ctx.sessions() as session, session.begin():
        ensure_internal_channel(
            session=session, platform=Platform.SLACK, address="C0OLDINC1", locale="it"
        )
        ensure_internal_channel(
            session=session, platform=Platform.SLACK, address="C0NEWINC1", locale="it"
        )
    listing = run(ctx, "channels list").text
    assert "C0OLDINC1 [it] incident channel (internal" in listing
    with pytest.raises(Refused, match="is an incident channel"):
        run(ctx, "channels enable C0OLDINC1")
