"""The Slack listeners: each acknowledges first, then parses, calls the core and answers."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from bot.frontend.answers import Refusal, answer, refusal_of
from bot.frontend.backlog import Backlog
from bot.frontend.runner import CommandRunner
from bot.slack import modals
from bot.slack.acking import AckedAtOnce
from bot.slack.caller import Answers, Caller, caller_of, plain_text
from bot.slack.forms import load_components, load_incident_form
from bot.slack.http import SlackHttp
from bot.slack.redelivery import SlackClaims
from bot.slack.replies import refusal_message, reply_message, summary_message
from bot.slack.responders import Responders
from bot.slack.submissions import read_submission, refreshed_view
from bot.slack.thread import EDIT_BUTTON, NOTE_BUTTON, RESOLVE_BUTTON, UPDATE_BUTTON
from commands import verbs as v
from commands.errors import NotAllowed, Refused, UsageError
from commands.lookup import ref
from commands.parser import Clock, parse, parse_ref, parse_tokens
from commands.queries import SummaryView
from commands.tokens import Token, tokenize

log = logging.getLogger(__name__)

# A trigger_id is good for 3 s: reading the form's data must leave time to open it.
FORM_SECONDS = 1.8
STILL_SAVING = "Still working on it (the database is slow); the outcome will follow here."
QUEUED = "Herald is busy: your command waits its turn behind others; the outcome will follow here."
TOO_MANY = (
    "You have many commands waiting their turn already; this one was not run. "
    "Send it again once their answers are in."
)
NOT_RUN = (
    "Herald could not run your command in time (it was stopping, or too busy), "
    "so nothing was done; send it again."
)
# A response_url takes answers for 30 minutes: a command still waiting near then is
# dropped, and its person told, while the answer can still reach them.
EXPIRE_SECONDS = 25 * 60.0
FORM_UNREADABLE = "That form could not be read; open it again, or type the command instead."
TRIGGER_EXPIRED = "The form could not open in time; type the command again, or use its text form."
BUTTONS = re.compile(f"^({'|'.join((UPDATE_BUTTON, RESOLVE_BUTTON, NOTE_BUTTON, EDIT_BUTTON))})$")


def open_prefill(text: str, clock: Clock) -> v.OpenIncident | None:
    """`open` typed without a title: its options, to fill the modal with; None for any other
    command. A UsageError about the options (`open --sev 9`) is raised for the caller."""
    try:
        tokens = tokenize(text)
    except UsageError:
        return None
    if not tokens or tokens[0].text.lower().lstrip("/") != "open":
        return None
    command = parse_tokens([tokens[0], Token("…", quoted=True), *tokens[1:]], clock=clock)
    assert isinstance(command, v.OpenIncident)
    return v.OpenIncident(
        title="",
        severity=command.severity,
        components=command.components,
        status=command.status,
        message=command.message,
    )


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """A slash command as it waits in the backlog: who, what, and when it was acknowledged."""

    caller: Caller
    text: str
    retry: str  # x-slack-retry-num, for the log of a redelivery
    started: float  # monotonic, for the deadline of the answer
    received: datetime  # the clock its dates are read against
    command: v.Command | None = None  # already parsed when the ack had to (see _reading)


def _reading(text: str, clock: Clock) -> tuple[bool, v.Command | None]:
    """Whether the text answers with a form (`/incident` alone, `open` without a title),
    and, for an `open` that had to be parsed to tell, the command it reads as."""
    words = text.split(None, 1)
    if not words:
        return True, None
    if words[0].lower().lstrip("/") != "open":
        return False, None
    try:
        return False, parse(text, clock=clock)
    except UsageError:
        try:
            return open_prefill(text, clock) is not None, None
        except UsageError:
            return False, None


class _Turns:
    """The backlog's side of the Slack handlers: run a queued command, or tell its person."""

    def __init__(self, handlers: SlackHandlers) -> None:
        self.handlers = handlers

    async def run(self, job: SlashCommand, *, told_late: bool) -> None:
        """Run the command in its turn."""
        await self.handlers.command(job, told_late=told_late)

    async def tell_late(self, job: SlashCommand) -> None:
        """It waits behind other commands past the deadline: say so, once."""
        await self.handlers.answers.tell(job.caller, QUEUED)

    async def tell_dropped(self, job: SlashCommand) -> None:
        """It was never run (Herald stopping, or it waited too long): say nothing was done."""
        await self.handlers.answers.tell(job.caller, NOT_RUN)


class SlackHandlers:
    """The listeners of the Slack app, sharing one runner, one client and one way to answer."""

    def __init__(
        self,
        *,
        runner: CommandRunner,
        http: SlackHttp,
        responders: Responders,
        sessions: sessionmaker[Session],
        zone: ZoneInfo,
        clock: Callable[[], datetime],
        public_url: str,
        incident_channel: str | None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runner = runner
        self.http = http
        self.answers = Answers(http)
        self.responders = responders
        self.sessions = sessions
        self.zone = zone
        self.clock = clock
        self.public_url = public_url
        self.incident_channel = incident_channel
        self.monotonic = monotonic
        self.claims = SlackClaims(sessions, clock=clock, monotonic=monotonic)
        self.acks = AckedAtOnce(self.on_error)
        self.backlog: Backlog[SlashCommand] = Backlog(
            _Turns(self),
            lambda job: job.caller.user_id,
            late_after=runner.deadline,
            expire_after=EXPIRE_SECONDS,
            monotonic=monotonic,
        )

    async def drain(self, timeout: float) -> None:
        """At shutdown: let the acknowledged commands run, those queued included, for as
        long as `timeout` allows; whoever is left is told nothing was done."""
        deadline = self.monotonic() + timeout
        # A listener acked just before may be about to queue its command: the backlog,
        # stopping, tells its person it was not run.
        await asyncio.gather(self.acks.wait(timeout), self.backlog.drain(timeout))
        await self.runner.drain(max(0.0, deadline - self.monotonic()))

    async def on_command(
        self, ack: AsyncAck, body: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        """`/incident TEXT`: acknowledged at once, then run in its turn (see Backlog)."""
        started = self.monotonic()
        await ack()
        text = plain_text(str(body.get("text") or ""))
        received = self.clock()
        form, command = _reading(text, Clock(self.zone, received))
        job = SlashCommand(
            caller=caller_of(body),
            text=text,
            retry=request.headers.get("x-slack-retry-num", [""])[0],
            started=started,
            received=received,
            command=command,
        )
        if form:
            # Its trigger_id is good for 3 s: no waiting behind others' commands, nor the
            # person's own (a form only opens; what it saves comes back as a submission).
            await self.command(job, told_late=False)
        elif not self.backlog.put(job):
            await self.answers.tell(job.caller, TOO_MANY)

    async def command(self, job: SlashCommand, *, told_late: bool) -> None:
        """A modal for `open` without a title, else the command language; any failure is
        answered (with an error id for a bug)."""
        try:
            await self._command(job, told_late=told_late)
        except Exception as error:
            await self._refuse(job.caller, error, changing=True)

    async def _command(self, job: SlashCommand, *, told_late: bool) -> None:
        caller, text, started = job.caller, job.text, job.started
        clock = Clock(self.zone, job.received)

        def changing() -> bool:
            try:
                return v.changes_state(parse(text, clock=clock))
            except UsageError:
                return True  # a form to open, or a typo: said as for a change

        if not await self._first_time(caller, caller.trigger_id, job.retry, changing):
            return
        if not text.strip():
            await self._open_form(caller, None, started)
            return
        try:
            command = job.command if job.command is not None else parse(text, clock=clock)
        except UsageError as error:
            refusal = error
            try:
                prefill = open_prefill(text, clock)
            except UsageError as about_options:
                refusal, prefill = about_options, None
            if prefill is None:
                await self._refuse(caller, refusal, changing=False)
            else:
                await self._open_form(caller, prefill, started)
            return
        await self._run(caller, command, started, told_late=told_late)

    async def on_button(self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        """Update / Resolve / Add note / Edit last update under an incident: open its modal."""
        started = self.monotonic()
        await ack()
        caller = caller_of(body)
        if not await self._first_time(caller, body.get("trigger_id"), "", lambda: True):
            return
        try:
            allowed = await asyncio.wait_for(self.responders.includes(caller.user_id), 1.0)
        except (TimeoutError, Refused):
            allowed = True  # not known in time: the submission is checked again
        if not allowed:
            grant = self.responders.grant_hint(caller.user_id)
            refusal = NotAllowed(
                f"Only responders can change incidents, components or channels; {grant}. "
                "Anyone may use list, show, summary and help."
            )
            await self._refuse(caller, refusal, changing=True)
            return
        try:
            incident_id = parse_ref(str(action.get("value") or ""))
            form, choices = await asyncio.wait_for(
                asyncio.to_thread(load_incident_form, self.sessions, incident_id),
                timeout=max(0.1, started + FORM_SECONDS - self.monotonic()),
            )
        except Exception as error:
            await self._refuse(caller, error, changing=False)
            return
        meta = {"channel": caller.channel_id, "response_url": caller.response_url}
        now = self.clock()
        kind = action.get("action_id")
        if kind == UPDATE_BUTTON:
            view = modals.update_modal(form, choices, meta, zone=self.zone, now=now)
        elif kind == RESOLVE_BUTTON:
            view = modals.resolve_modal(form, meta, zone=self.zone, now=now)
        elif kind == NOTE_BUTTON:
            view = modals.note_modal(form, meta)
        elif form.last_public is None:
            await self._refuse(
                caller,
                Refused(f"{ref(form.incident_id)} has no public update to correct."),
                changing=False,
            )
            return
        elif len(form.last_public.text) > modals.INPUT_LIMIT:
            # A Slack form holds 3,000 characters; prefilling a cut text would make a
            # one-word fix publish the truncated update everywhere.
            number = form.last_public.number
            await self._refuse(
                caller,
                Refused(
                    f"Update #{number} is longer than a Slack form holds; correct it with: "
                    f"/incident edit {ref(form.incident_id)} --update {number} TEXT…"
                ),
                changing=False,
            )
            return
        else:
            view = modals.edit_modal(form, meta, zone=self.zone, now=now)
        await self._show(caller, view)

    async def on_preview(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Refresh preview: render the customer post again from what the modal holds now."""
        await ack()
        view = body.get("view") or {}
        fresh = refreshed_view(view, zone=self.zone, now=self.clock())
        try:
            await self.http.client().views_update(
                view_id=view.get("id"), hash=view.get("hash"), view=fresh
            )
        except SlackApiError as error:
            log.info("preview not refreshed: %s", error.response.get("error"))

    async def on_submission(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """A modal submitted: refuse it field by field, or close it and run its command."""
        started = self.monotonic()
        try:
            command = read_submission(view)
        except modals.ModalErrors as refusal:
            await ack(response_action="errors", errors=refusal.errors)
            return
        except (ValueError, KeyError, TypeError, AttributeError):
            await ack()  # a form Herald cannot read: close it rather than leave Slack waiting
            log.warning("unreadable modal submission %s", view.get("callback_id"), exc_info=True)
            command = None
        else:
            await ack()
        caller = caller_of(body).with_metadata(str(view.get("private_metadata") or ""))
        if command is None:
            await self.answers.tell(caller, FORM_UNREADABLE)
            return
        key = f"view:{view.get('id')}:{view.get('hash')}"
        if not await self._first_time(caller, key, "", lambda: True, quiet=True):
            return
        await self._run(caller, command, started)

    async def on_error(self, error: Exception, body: dict[str, Any]) -> None:
        """Anything a listener let through: answered like every other failure."""
        text, blocks = refusal_message(refusal_of(error, changing=False, front_end="Slack"))
        if body:
            await self.answers.tell(caller_of(body), text, blocks)

    async def _first_time(
        self,
        caller: Caller,
        key: str | None,
        retry: str,
        changing: Callable[[], bool],
        *,
        quiet: bool = False,
    ) -> bool:
        """Claim the request in the database; False (the person told) for a redelivery, or
        when the database could not say (answered as any command it could not run)."""
        try:
            if await self.claims.first_time(key):
                return True
        except Exception as error:
            await self._refuse(caller, error, changing=changing())
            return False
        if quiet:
            return False
        log.info(
            "request from %s delivered again (retry %s): ignored", caller.user_id, retry or "?"
        )
        await self.answers.tell(
            caller, "Slack delivered this request twice; Herald ran it once (see the answer above)."
        )
        return False

    async def _run(
        self, caller: Caller, command: v.Command, started: float, *, told_late: bool = False
    ) -> None:
        async def still_working() -> None:
            await self.answers.tell(caller, STILL_SAVING)

        result = await answer(
            self.runner,
            caller.person,
            command,
            started=started,
            when_slow=None if told_late else still_working,
        )
        if isinstance(result, Refusal):
            await self._tell_refusal(caller, result)
        elif isinstance(result, SummaryView):
            text, blocks = summary_message(result, self.zone)
            await self.answers.tell(caller, text, blocks, in_channel=result.share)
        else:
            text, blocks = reply_message(
                result, public_url=self.public_url, incident_channel=self.incident_channel
            )
            announce = (
                result.changed and result.incident_id is not None and not self.incident_channel
            )
            await self.answers.tell(caller, text, blocks, in_channel=announce)

    async def _refuse(self, caller: Caller, error: BaseException, *, changing: bool) -> None:
        await self._tell_refusal(caller, refusal_of(error, changing=changing, front_end="Slack"))

    async def _tell_refusal(self, caller: Caller, refusal: Refusal) -> None:
        text, blocks = refusal_message(refusal, responders=self.responders.listing())
        await self.answers.tell(caller, text, blocks)

    async def _open_form(
        self, caller: Caller, prefill: v.OpenIncident | None, started: float
    ) -> None:
        try:
            choices = await asyncio.wait_for(
                asyncio.to_thread(load_components, self.sessions),
                timeout=max(0.1, started + FORM_SECONDS - self.monotonic()),
            )
        except Exception as error:
            await self._refuse(caller, error, changing=False)
            return
        meta = {"channel": caller.channel_id, "response_url": caller.response_url}
        view = modals.open_modal(choices, prefill, meta, zone=self.zone, now=self.clock())
        await self._show(caller, view)

    async def _show(self, caller: Caller, view: dict[str, Any]) -> None:
        try:
            await self.http.client().views_open(trigger_id=caller.trigger_id, view=view)
        except SlackApiError as error:
            log.warning("views.open failed: %s", error.response.get("error"))
            await self.answers.tell(caller, TRIGGER_EXPIRED)


def register(app: AsyncApp, handlers: SlackHandlers) -> None:
    """Every listener of the Slack front-end, in one place."""
    # Any slash command: the manifest names it (/incident by default), Herald answers it.
    # The app answers when a listener returns (process_before_response): each returns at
    # its ack and goes on after (bot/slack/acking.py).
    acked = handlers.acks
    app.command(re.compile(r"^/.+"))(acked(handlers.on_command))
    app.action(BUTTONS)(acked(handlers.on_button))
    app.action(modals.PREVIEW_BUTTON)(acked(handlers.on_preview))
    app.view_submission(re.compile(r"^herald_"))(acked(handlers.on_submission))
    app.error(handlers.on_error)
