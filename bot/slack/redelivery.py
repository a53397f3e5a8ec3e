"""Slack's redeliveries run once across every web process: each request is claimed in the
database (one INSERT … ON CONFLICT DO NOTHING, off the event loop) before it runs."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage.requests import claim_request, forget_requests

log = logging.getLogger(__name__)

SOURCE = "slack"
# Slack retries within minutes; a trigger_id is good for seconds. An hour outlives both.
REMEMBER = timedelta(hours=1)
# Old claims are dropped by the process that claims, at most this often.
FORGET_EVERY_SECONDS = 10 * 60
KEY_LIMIT = 120  # handled_request.key


def stored_key(key: str) -> str:
    """The key as stored: itself, or a digest of it when longer than the column holds."""
    if len(key) <= KEY_LIMIT:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class SlackClaims:
    """Claims each Slack request once on the database that all web processes share."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.monotonic = monotonic
        self._forgot_at: float | None = None

    async def first_time(self, key: str | None) -> bool:
        """False when this request was already claimed, by this process or another: a
        redelivery. A request without a key is always new. Raises if the database fails."""
        if not key:
            return True
        return await asyncio.to_thread(self._claim, key)

    def _claim(self, key: str) -> bool:
        now = self.clock()
        with self.sessions() as session, session.begin():
            first = claim_request(session=session, source=SOURCE, key=stored_key(key), now=now)
        self._forget_old(now)
        return first

    def _forget_old(self, now: datetime) -> None:
        moment = self.monotonic()
        if self._forgot_at is not None and moment - self._forgot_at < FORGET_EVERY_SECONDS:
            return
        self._forgot_at = moment
        try:
            with self.sessions() as session, session.begin():
                forget_requests(session=session, before=now - REMEMBER, source=SOURCE)
        except Exception:  # the claim stands; old claims go at the next try
            log.warning("old Slack claims not forgotten", exc_info=True)
