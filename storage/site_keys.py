"""Keys made once and shared through the database, and the count of mails asked for."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from storage.models import MailRequest, SiteKey

# Kept as long as a confirmation link lives, so a used one is known as used.
KEPT = timedelta(days=2)


def site_key(*, session: Session, name: str) -> str:
    """The key called `name`, made at random the first time any process asks."""
    found = session.get(SiteKey, name)
    if found is not None:
        return found.value
    try:
        # A savepoint: another process making it at the same moment wins, and its is read.
        with session.begin_nested():
            session.add(SiteKey(name=name, value=secrets.token_urlsafe(48)))
    except sa.exc.IntegrityError:
        pass
    made = session.get(SiteKey, name)
    assert made is not None
    return made.value


def existing_site_key(*, session: Session, name: str) -> str | None:
    """The key called `name` if some process made it, without making it."""
    found = session.get(SiteKey, name)
    return None if found is None else found.value


def count_mail_requests(*, session: Session, key: str, since: datetime) -> int:
    """How many mails were asked for under `key` since then."""
    return int(
        session.exec(
            select(func.count())
            .select_from(MailRequest)
            .where(MailRequest.key == key, col(MailRequest.at) >= since)
        ).one()
    )


def record_mail_request(*, session: Session, keys: list[str], at: datetime) -> None:
    """One more mail asked for under each of `keys`; rows older than two days are dropped."""
    session.execute(sa.delete(MailRequest).where(col(MailRequest.at) < at - KEPT))
    for key in keys:
        session.add(MailRequest(key=key, at=at))
