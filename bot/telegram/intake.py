"""Updates from Telegram, polled or pushed, each run once: claimed in the database first."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy.exc
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from telegram import Message, Update
from telegram.ext import Application

from bot.database import did_not_answer
from storage.models import HandledRequest
from storage.requests import (
    advance_cursor,
    claim_request,
    finish_request,
    forget_requests,
    get_cursor,
    take_unfinished_requests,
    touch_requests,
)

log = logging.getLogger(__name__)

SOURCE = "telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 (a header name)
# Telegram keeps an update for 24 hours; a claim outlives any redelivery of it.
REMEMBER = timedelta(hours=48)
# A claim still unfinished after this long belongs to a process that died while running it
# (a live process marks its claims alive at every sweep, well within this).
ORPHAN_AGE = timedelta(minutes=5)
# Marking a claim finished is retried through a short database outage.
FINISH_RETRIES = (1.0, 5.0, 15.0, 30.0)


def reply_point(update: Update) -> tuple[int | None, int | None]:
    """The chat and message an answer about this update goes to, if any."""
    message = update.message
    if message is None and update.callback_query is not None:
        found = update.callback_query.message
        message = found if isinstance(found, Message) else None
    if message is None or not all(
        -(2**63) <= n < 2**63 for n in (message.chat_id, message.message_id)
    ):
        return None, None
    return message.chat_id, message.message_id


class UpdateIntake:
    """Claims each update_id once across processes, remembers the last one, and runs it."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], datetime],
        cursor: str,
    ) -> None:
        self.application = application
        self.sessions = sessions
        self.clock = clock
        self.cursor = cursor
        self._running: set[asyncio.Task[None]] = set()
        # Claims this process is still running (or still recording as finished): kept
        # alive in the database, so no sweep takes a slow command for a dead process's.
        self._alive: set[int] = set()
        self._outage = False
        # Set when an update ran unclaimed: the caller confirms it to Telegram at once.
        self.unclaimed = False

    def _claim(self, update: Update) -> bool:
        now = self.clock()
        chat, message = reply_point(update)
        with self.sessions() as session, session.begin():
            first = claim_request(
                session=session,
                source=SOURCE,
                key=str(update.update_id),
                now=now,
                reply_chat=chat,
                reply_to=message,
            )
            advance_cursor(session=session, name=self.cursor, position=update.update_id, now=now)
        return first

    async def claim(self, update: Update) -> bool:
        """True the first time this update is seen by any process; raises if the database fails."""
        first = await asyncio.to_thread(self._claim, update)
        if not first:
            log.info("Telegram update %s already handled: skipped", update.update_id)
        return first

    def _finish(self, update_id: int) -> None:
        with self.sessions() as session, session.begin():
            finish_request(session=session, source=SOURCE, key=str(update_id), now=self.clock())

    def take_orphans(self) -> list[HandledRequest]:
        """Claims some process made and never finished (it died): each taken once, to tell.
        This process's own claims under way are marked alive first."""
        now = self.clock()
        with self.sessions() as session, session.begin():
            touch_requests(
                session=session, source=SOURCE, keys=[str(k) for k in self._alive], now=now
            )
        with self.sessions() as session, session.begin():
            forget_requests(session=session, before=now - REMEMBER)
            return take_unfinished_requests(
                session=session, source=SOURCE, before=now - ORPHAN_AGE, now=now
            )

    def last_handled(self) -> int | None:
        """The newest update_id claimed, to resume polling after it."""
        with self.sessions() as session:
            return get_cursor(session=session, name=self.cursor)

    def forget_old(self) -> None:
        """Drop claims older than any redelivery."""
        with self.sessions() as session, session.begin():
            forget_requests(session=session, before=self.clock() - REMEMBER)

    async def take(self, update: Update) -> None:
        """Claim an update and run it the first time; raises for a database error that is
        not an outage.

        While the database does not answer, the update is run unclaimed: its handlers
        meet the same outage and tell its author at once that nothing was saved, and
        the caller confirms it to Telegram, so it is never run later, unasked for.
        """
        try:
            first = await self.claim(update)
        except sqlalchemy.exc.SQLAlchemyError as error:
            if not did_not_answer(error):
                raise
            if not self._outage:
                log.warning(
                    "Telegram updates not claimed: the database does not answer (%s); "
                    "each is answered that nothing was saved",
                    type(error).__name__,
                )
            self._outage = True
            self.unclaimed = True
            self.run(update, claimed=False)
            return
        if self._outage:
            log.info("Telegram updates: the database answers again")
        self._outage = False
        if first:
            self.run(update)

    def run(self, update: Update, *, claimed: bool = True) -> None:
        """Handle an update in the background; the caller goes on at once."""
        # Unclaimed too: its claim may have been written after all, its answer lost on
        # the way; kept alive and marked finished, it is never taken for a dead one's.
        self._alive.add(update.update_id)
        task = asyncio.create_task(self._handle(update, claimed))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _handle(self, update: Update, claimed: bool) -> None:
        try:
            await self.application.process_update(update)
        except asyncio.CancelledError:
            # Stopped before it was done (a shutdown that outlasted the drain): the claim
            # stays unfinished, so its author is told to check once a sweep finds it.
            self._alive.discard(update.update_id)
            log.warning("Telegram update %s abandoned at shutdown", update.update_id)
            raise
        await self._finished(update.update_id, claimed)

    async def _finished(self, update_id: int, claimed: bool = True) -> None:
        for delay in FINISH_RETRIES:
            try:
                await asyncio.to_thread(self._finish, update_id)
                break
            except sqlalchemy.exc.SQLAlchemyError as error:
                if claimed:
                    log.info("Telegram update %s not marked done yet: %s", update_id, error)
                await asyncio.sleep(delay)
        else:
            if claimed:
                log.warning("Telegram update %s not marked done; a sweep will report it", update_id)
        self._alive.discard(update_id)

    async def drain(self, timeout: float) -> None:
        """Wait for the updates under way (at shutdown)."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout)


class TelegramWebhook:
    """`POST /telegram/webhook`: the secret checked before anything is read, then claimed
    and run (unclaimed while the database does not answer, to be refused in words)."""

    def __init__(self, intake: UpdateIntake, secret: str, ready: Callable[[], bool]) -> None:
        self.intake = intake
        self.secret = secret.encode()
        self.ready = ready

    async def handle(self, request: Request) -> Response:
        """403 without the right secret, 400 for what is not an update, else 200 at once."""
        given = request.headers.get(SECRET_HEADER, "").encode("latin-1", "replace")
        if not hmac.compare_digest(given, self.secret):
            return Response("forbidden", status_code=403, media_type="text/plain")
        if not self.ready():
            return Response("starting", status_code=503, headers={"Retry-After": "5"})
        try:
            update = self._update(await request.body())
        except ClientDisconnect:
            return Response(status_code=400)
        if update is None:
            return Response("not a Telegram update", status_code=400, media_type="text/plain")
        try:
            await self.intake.take(update)
        except sqlalchemy.exc.SQLAlchemyError as error:
            # Not an outage: Telegram sends it again later, and a command that waited
            # too long is then refused.
            log.warning(
                "Telegram update not claimed: %s; Telegram will retry", type(error).__name__
            )
            return Response(status_code=503, headers={"Retry-After": "5"})
        return Response(status_code=200)

    def _update(self, body: bytes) -> Update | None:
        try:
            data: Any = json.loads(body)
            # Telegram sends UTF-8 text: a lone surrogate (`"\ud800"`) is not from Telegram,
            # and would fail later in the database rather than here.
            json.dumps(data, ensure_ascii=False).encode()
        except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
            return None
        if not isinstance(data, dict) or type(data.get("update_id")) is not int:
            return None
        if not 0 <= data["update_id"] < 2**63:
            return None
        try:
            return Update.de_json(data, self.intake.application.bot)
        except Exception:  # any shape PTB cannot read is the sender's error, not ours
            log.info("a Telegram update of an unreadable shape was refused")
            return None
