"""E-mail subscriptions from the status page: double opt-in through a signed, expiring
link; a signed link in every mail to change or leave; limits on confirmation mails.

The form's answer is the same whether or not the address is subscribed already, so it
tells nobody who is: a subscriber gets a mail with their own link instead.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from commands.context import Context
from commands.errors import Refused, UsageError
from commands.subscriber_words import MAIL_WORDS
from commands.subscriptions import Subscription, choose, services, subscription, unsubscribe
from commands.wording import pick_locale
from storage import site_keys
from storage import subscribers as store
from storage.models import Channel, Platform
from storage.platforms import spec

EMAIL = Platform.EMAIL
CONFIRM_WITHIN = timedelta(hours=48)
# Confirmation mails one address may be sent, and one client may ask for, in an hour.
PER_ADDRESS_HOURLY = 3
PER_CLIENT_HOURLY = 10
KEY_NAME = "subscription-links"


class TooMany(Refused):
    """Past the limit of confirmation mails: try again later."""


class BadLink(Refused):
    """A link that was not Herald's, was changed, or has expired (`expired`)."""

    def __init__(self, *, expired: bool = False) -> None:
        words = MAIL_WORDS["en"]
        super().__init__(words.expired if expired else words.bad_link)
        self.expired = expired


@dataclass(frozen=True)
class Mail:
    """A mail for one person: what the web process sends at once."""

    to: str
    subject: str
    text: str
    link: str


def _serializer(ctx: Context, purpose: str) -> URLSafeTimedSerializer:
    with ctx.sessions() as session, session.begin():
        key = site_keys.site_key(session=session, name=KEY_NAME)
    return _signer(key, purpose, ctx.now)


def _signer(
    key: str, purpose: str, now: Callable[[], datetime] | None = None
) -> URLSafeTimedSerializer:
    if now is None:
        return URLSafeTimedSerializer(key, salt=f"herald-{purpose}")
    clock = now

    class OnHeraldsClock(TimestampSigner):
        """Links dated, and their age read, by the command's clock."""

        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return URLSafeTimedSerializer(key, salt=f"herald-{purpose}", signer=OnHeraldsClock)


def link_token(key: str, channel: Channel) -> str:
    """The token of a subscriber's own links (manage, one-click unsubscribe): it names
    their subscription, not their address, and dies with it (leaving, a new one: the
    moment it began tells it from a later one that a database gave the same id)."""
    return str(_signer(key, "manage").dumps({"i": channel.id, "s": _began(channel)}))


def _began(channel: Channel) -> str:
    return channel.created_at.isoformat(timespec="microseconds")


def links(public_url: str, token: str) -> tuple[str, str]:
    """The manage page and the one-click unsubscribe address for a link token."""
    query = urlencode({"t": token})
    base = public_url.rstrip("/")
    return f"{base}/subscribe/manage?{query}", f"{base}/subscribe/unsubscribe?{query}"


def _hashed(kind: str, value: str) -> str:
    return f"{kind}:" + hashlib.sha256(value.lower().encode()).hexdigest()[:48]


def _address(typed: str, locale: str) -> str:
    address = typed.strip()
    rule = spec(EMAIL).address
    if rule.refusal(address) is not None:
        raise UsageError(MAIL_WORDS[locale].bad_address)
    # A person's own address, in lower case: mailboxes ignore it, so one mailbox is one
    # subscriber whatever the form was given.
    return address.lower()


def manage_link(ctx: Context, public_url: str, channel_id: int) -> str:
    """The page where this subscriber changes or leaves."""
    with ctx.sessions() as session, session.begin():
        key = site_keys.site_key(session=session, name=KEY_NAME)
        channel = store.get_subscriber_by_id(session=session, channel_id=channel_id)
        assert channel is not None
        return links(public_url, link_token(key, channel))[0]


def ask(
    ctx: Context,
    *,
    typed: str,
    keys: Sequence[str],
    locale: str,
    client: str,
    public_url: str,
) -> Mail | None:
    """The form was sent: the mail to send (a confirmation, or a subscriber's own link),
    or None when nothing is to be sent. Raises UsageError for what to correct, TooMany
    past the limits; never anything that depends on who the address is."""
    chosen = pick_locale(locale)
    words = MAIL_WORDS[chosen]
    address = _address(typed, chosen)
    now = ctx.now()
    valid = {c.key for c in services(ctx)}
    if any(k not in valid for k in keys):
        raise UsageError(words.bad_service)
    by_address, by_client = _hashed("address", address), _hashed("client", client)
    with ctx.sessions() as session, session.begin():
        since = now - timedelta(hours=1)
        if (
            site_keys.count_mail_requests(session=session, key=by_address, since=since)
            >= PER_ADDRESS_HOURLY
            or site_keys.count_mail_requests(session=session, key=by_client, since=since)
            >= PER_CLIENT_HOURLY
        ):
            raise TooMany(words.too_many)
        site_keys.record_mail_request(session=session, keys=[by_address, by_client], at=now)
        existing = store.get_subscriber(session=session, platform=EMAIL, address=address)
    if existing is not None and not existing.is_subscriber:
        return None  # an operator's list: not this form's to change, and not to be told
    if existing is not None and existing.enabled:
        assert existing.id is not None
        link = manage_link(ctx, public_url, existing.id)
        return Mail(address, words.manage_subject, words.manage_text.format(link=link), link)
    # A nonce: two links asked for in the same second are two links, each used once.
    nonce = secrets.token_urlsafe(6)
    token = _serializer(ctx, "confirm").dumps(
        {"a": address, "c": list(keys), "l": chosen, "n": nonce}
    )
    link = f"{public_url.rstrip('/')}/subscribe/confirm?{urlencode({'t': token})}"
    return Mail(address, words.confirm_subject, words.confirm_text.format(link=link), link)


def _read(ctx: Context, purpose: str, token: str, max_age: timedelta | None) -> dict[str, object]:
    serializer = _serializer(ctx, purpose)
    try:
        if max_age is None:
            data = serializer.loads(token)
        else:
            data = serializer.loads(token, max_age=int(max_age.total_seconds()))
    except SignatureExpired:
        raise BadLink(expired=True) from None
    except BadSignature:
        raise BadLink() from None
    if not isinstance(data, dict):
        raise BadLink()
    return data


def confirm(ctx: Context, token: str) -> tuple[int, Subscription]:
    """The link in the confirmation mail was followed and its button pressed: the
    subscription starts (once: a link used already is refused)."""
    data = _read(ctx, "confirm", token, CONFIRM_WITHIN)
    address, nonce = data.get("a"), data.get("n")
    if not isinstance(address, str) or not isinstance(nonce, str):
        raise BadLink()
    raw_keys = data.get("c")
    keys = [str(k) for k in raw_keys] if isinstance(raw_keys, list) else []
    locale = pick_locale(str(data.get("l", "it")))
    # The signed nonce, not the token's text, is what was used: base64 can be written
    # more than one way, and each way would pass as a new link.
    used = _hashed("used", nonce)
    now = ctx.now()
    with ctx.sessions() as session:
        if site_keys.count_mail_requests(session=session, key=used, since=now - CONFIRM_WITHIN):
            raise BadLink()
        existing = store.get_subscriber(session=session, platform=EMAIL, address=address)
        if existing is not None and not existing.is_subscriber:
            raise BadLink()  # an operator's list since: not the form's to change
    live = {c.key for c in services(ctx)}
    kept = [k for k in keys if k in live]
    if keys and not kept:
        raise Refused(MAIL_WORDS[locale].services_gone)
    now_following = choose(ctx, platform=EMAIL, address=address, locale=locale, keys=kept)
    with ctx.sessions() as session, session.begin():
        site_keys.record_mail_request(session=session, keys=[used], at=now)
        channel = store.get_subscriber(session=session, platform=EMAIL, address=address)
        assert channel is not None
        assert channel.id is not None
        return channel.id, now_following


def _subscriber(ctx: Context, token: str) -> tuple[int, str] | None:
    """The subscription a manage token names, as (id, address); None once it has ended."""
    data = _read(ctx, "manage", token, None)
    number = data.get("i")
    if not isinstance(number, int):
        raise BadLink()
    with ctx.sessions() as session:
        channel = store.get_subscriber_by_id(session=session, channel_id=number)
        if channel is None or _began(channel) != data.get("s"):
            return None
        return number, channel.address


def managed(ctx: Context, token: str) -> tuple[str, Subscription] | None:
    """Whose manage link this is and where they stand; None once they have left."""
    found = _subscriber(ctx, token)
    if found is None:
        return None
    address = found[1]
    return address, subscription(ctx, platform=EMAIL, address=address, locale="it")


def change(
    ctx: Context, token: str, keys: Sequence[str], locale: str
) -> tuple[str, Subscription] | None:
    """The manage page's form: follow exactly these services, in this language."""
    found = _subscriber(ctx, token)
    if found is None:
        return None
    address = found[1]
    return address, choose(ctx, platform=EMAIL, address=address, locale=locale, keys=keys)


def leave(ctx: Context, token: str) -> None:
    """One click: the address is deleted (nothing to do if it already was)."""
    found = _subscriber(ctx, token)
    if found is not None:
        unsubscribe(ctx, platform=EMAIL, address=found[1], locale="it")
