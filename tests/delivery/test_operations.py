"""The worker's choice of operation, from the delivery and the platform's capabilities alone."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.delivery.errors import (
    ChannelGone,
    ChatMoved,
    DeliveryError,
    Paused,
    RateLimited,
    Rejected,
    Unavailable,
)
from bot.delivery.jobs import DeliveryJob, Destination, RootView
from bot.delivery.operations import (
    EditMessages,
    Failed,
    Fault,
    NotYet,
    Outcome,
    PostCorrection,
    PostOpening,
    RefreshOpening,
    ReplyInThread,
    RetryAfter,
    Sent,
    failure,
    operation_for,
    outcome_of,
)
from commands.wording import PublicPost
from storage.models import Audience, Platform, UpdateKind
from storage.platforms import Capabilities, spec
from storage.updates import ROOT_REFRESH

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
TELEGRAM = spec(Platform.TELEGRAM).can
WEBHOOK = spec(Platform.WEBHOOK).can
EMAIL = spec(Platform.EMAIL).can

POST = PublicPost(
    locale="it",
    incident_id=7,
    update_number=2,
    kind=UpdateKind.UPDATE,
    label="Aggiornamento",
    title="Problemi consegna posta",
    headline="Aggiornamento",
    stamp="07/12/2026 10:30",
    at=AT,
    body="Stiamo verificando.",
    status="identified",
    impact="major",
    window=None,
    components=("Posta",),
    edited=False,
)


def a_job(
    *,
    revision: int = 0,
    is_root: bool = False,
    root_ref: str | None = "100",
    own_ref: str | None = None,
    audience: Audience = Audience.PUBLIC,
) -> DeliveryJob:
    """A delivery of update 2 of INC-7 to one channel, shaped by the arguments."""
    return DeliveryJob(
        delivery_id=1,
        attempts=0,
        revision=revision,
        queued_at=AT,
        destination=Destination(1, Platform.TELEGRAM, "-100123", "it", audience=audience),
        incident_id=7,
        incident_status="identified",
        severity=2,
        update_id=12,
        update_kind=UpdateKind.UPDATE,
        update_status="identified",
        public_number=2,
        post=POST,
        root=RootView(post=POST, title=POST.title, status="", ref=root_ref, update_id=11),
        is_root=is_root,
        own_ref=own_ref,
        resolved=False,
    )


def test_a_first_update_opens_the_thread_and_later_ones_reply_under_its_root() -> None:
    opening = a_job(is_root=True, root_ref=None)
    assert operation_for(opening, TELEGRAM) == PostOpening(opening)
    reply = a_job()
    assert operation_for(reply, TELEGRAM) == ReplyInThread(reply, "100")


def test_a_reply_whose_root_never_went_out_or_whose_platform_has_no_threads_stands_alone() -> None:
    orphan = a_job(root_ref=None)
    assert operation_for(orphan, TELEGRAM) == ReplyInThread(orphan, None)
    reply = a_job()
    assert operation_for(reply, WEBHOOK) == ReplyInThread(reply, None)


def test_an_ops_chat_gets_every_nudge_on_its_own_and_edits_its_own_messages() -> None:
    first = a_job(is_root=True, root_ref=None, audience=Audience.OPS)
    assert operation_for(first, TELEGRAM) == ReplyInThread(first, None)
    corrected = a_job(revision=1, is_root=True, own_ref="55", audience=Audience.OPS)
    assert operation_for(corrected, TELEGRAM) == EditMessages(corrected, "55", opening=False)


def test_a_correction_edits_the_messages_that_carry_the_post_where_the_platform_can() -> None:
    of_the_opening = a_job(revision=1, is_root=True, root_ref="100")
    assert operation_for(of_the_opening, TELEGRAM) == EditMessages(
        of_the_opening, "100", opening=True
    )
    of_a_reply = a_job(revision=2, own_ref="101,102")
    assert operation_for(of_a_reply, TELEGRAM) == EditMessages(of_a_reply, "101,102", opening=False)
    never_sent = a_job(revision=1, own_ref=None)
    assert operation_for(never_sent, TELEGRAM) is None


@pytest.mark.parametrize("can", [WEBHOOK, EMAIL], ids=["webhook", "email"])
def test_where_nothing_can_be_edited_a_correction_is_a_new_message_in_the_thread(
    can: Capabilities,
) -> None:
    job = a_job(revision=1, own_ref="<b@x>", root_ref="<a@x>")
    assert operation_for(job, can) == PostCorrection(job, ("<a@x>", "<b@x>"))
    of_the_opening = a_job(revision=1, is_root=True, root_ref="<a@x>", own_ref="<a@x>")
    assert operation_for(of_the_opening, can) == PostCorrection(of_the_opening, ("<a@x>",))
    unknown = a_job(revision=1, root_ref=None, own_ref=None)
    assert operation_for(unknown, can) == PostCorrection(unknown, ())


def test_the_opening_is_refreshed_only_where_it_is_another_message_that_can_be_edited() -> None:
    refresh = a_job(revision=ROOT_REFRESH)
    assert operation_for(refresh, TELEGRAM) == RefreshOpening(refresh, "100")
    assert operation_for(refresh, EMAIL) is None
    assert operation_for(refresh, WEBHOOK) is None
    assert operation_for(a_job(revision=ROOT_REFRESH, is_root=True), TELEGRAM) is None
    assert operation_for(a_job(revision=ROOT_REFRESH, root_ref=None), TELEGRAM) is None


def test_a_capability_changed_in_the_registry_changes_the_operation() -> None:
    editable_mail = replace(EMAIL, edits=True)
    job = a_job(revision=1, own_ref="<b@x>")
    assert operation_for(job, editable_mail) == EditMessages(job, "<b@x>", opening=False)


UNTIL = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (RateLimited("429", retry_after=12.0, scope="t"), RetryAfter(12.0, "t", "429")),
        (Paused("paused", until=UNTIL), NotYet(UNTIL, "paused")),
        (ChatMoved("moved", address="-1009"), Failed("moved", Fault.MOVED, "-1009")),
        (ChannelGone("blocked"), Failed("blocked", Fault.CHANNEL_GONE)),
        (Rejected("too long"), Failed("too long", Fault.REJECTED)),
        (Unavailable("HTTP 502"), Failed("HTTP 502", Fault.UNAVAILABLE)),
        (DeliveryError("odd"), Failed("odd", Fault.UNAVAILABLE)),
    ],
)
def test_each_platform_error_is_one_typed_outcome(error: DeliveryError, outcome: Outcome) -> None:
    assert failure(error) == outcome


def test_a_step_that_goes_through_is_sent_and_one_that_fails_is_its_outcome() -> None:
    async def posted() -> Sent:
        return Sent("5,6")

    async def refused() -> Sent:
        raise ChannelGone("bot was kicked")

    assert asyncio.run(outcome_of(posted())) == Sent("5,6")
    assert asyncio.run(outcome_of(refused())) == Failed("bot was kicked", Fault.CHANNEL_GONE)
