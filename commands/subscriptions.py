"""People subscribe themselves: which services they follow, in which language, and leaving.

Platform-neutral: a front-end names the platform and the person's address (a Telegram
private chat's id), and shows the Subscription it gets back, worded by `words_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from commands.context import Context
from commands.errors import Refused, UsageError
from commands.subscriber_words import WORDS
from commands.wording import LOCALES, pick_locale
from storage import components as component_store
from storage import subscribers as store
from storage.models import Channel, Component, Platform


@dataclass(frozen=True)
class Choice:
    """A service the person may follow, and whether they do."""

    key: str
    name: str
    followed: bool


@dataclass(frozen=True)
class Subscription:
    """Where a person stands after what they asked: following what, in which language."""

    locale: str
    subscribed: bool
    everything: bool  # follows every service, those added later too
    choices: tuple[Choice, ...]
    said: str  # what just happened, in the person's language

    @property
    def followed(self) -> tuple[str, ...]:
        """The names of the services followed (all of them when `everything`)."""
        return tuple(c.name for c in self.choices if c.followed)


def describe(subscription: Subscription) -> str:
    """What the person follows now, as one line in their language."""
    words = WORDS[subscription.locale]
    if not subscription.subscribed:
        return words.not_subscribed
    if subscription.everything:
        return words.following_all
    return words.following.format(names=", ".join(subscription.followed))


def _own(session: Session, platform: Platform, address: str) -> Channel | None:
    channel = store.get_subscriber(session=session, platform=platform, address=address)
    if channel is not None and not channel.is_subscriber:
        # Responders' nudges or a channel an operator added: not this person's to change.
        raise Refused(WORDS[pick_locale(channel.locale)].not_yours)
    return channel


def _view(session: Session, channel: Channel | None, locale: str, said: str) -> Subscription:
    live = list(component_store.list_components(session=session))
    if channel is None or not channel.enabled:
        choices = tuple(Choice(c.key, c.name, False) for c in live)
        return Subscription(locale, False, False, choices, said)
    assert channel.id is not None
    wanted = {c.key for c in store.followed_components(session=session, channel_id=channel.id)}
    everything = not wanted
    choices = tuple(Choice(c.key, c.name, everything or c.key in wanted) for c in live)
    return Subscription(pick_locale(channel.locale), True, everything, choices, said)


def _components(session: Session, keys: Sequence[str], locale: str) -> list[Component]:
    live = list(component_store.list_components(session=session))
    by_key = {c.key: c for c in live}
    unknown = [k for k in keys if k.lower() not in by_key]
    if unknown:
        raise UsageError(
            WORDS[locale].unknown_service.format(
                key=unknown[0], keys=" ".join(c.key for c in live) or "—"
            )
        )
    return [by_key[k.lower()] for k in dict.fromkeys(keys)]


def services(ctx: Context) -> tuple[Choice, ...]:
    """Every service one may follow, none ticked."""
    with ctx.sessions() as session:
        return tuple(
            Choice(c.key, c.name, False) for c in component_store.list_components(session=session)
        )


def subscription(ctx: Context, *, platform: Platform, address: str, locale: str) -> Subscription:
    """Where the person at `address` stands, without changing anything."""
    with ctx.sessions() as session:
        channel = _own(session, platform, address)
        return _view(session, channel, pick_locale(locale), "")


def welcome(ctx: Context, *, platform: Platform, address: str, locale: str) -> Subscription:
    """`/start`: where the person stands; one who had blocked the bot is back."""
    with ctx.sessions() as session, session.begin():
        channel = _own(session, platform, address)
        if channel is not None and not channel.enabled:
            store.come_back(session=session, channel=channel, now=ctx.now())
        chosen = pick_locale(locale if channel is None else channel.locale)
        return _view(session, channel, chosen, WORDS[chosen].welcome)


def subscribe(
    ctx: Context, *, platform: Platform, address: str, locale: str, keys: Sequence[str] = ()
) -> Subscription:
    """Follow the services `keys` too (every service when none); one who follows every
    service already goes on following them all."""
    with ctx.sessions() as session, session.begin():
        channel = _own(session, platform, address)
        chosen = pick_locale(locale if channel is None else channel.locale)
        adding = _components(session, keys, chosen)
        if channel is None:
            channel = store.create_subscriber(
                session=session, platform=platform, address=address, locale=chosen
            )
            current: list[Component] = []
            everything = False
        else:
            assert channel.id is not None
            current = store.followed_components(session=session, channel_id=channel.id)
            everything = not current
        assert channel.id is not None
        if not adding:
            store.set_followed_components(session=session, channel_id=channel.id, components=[])
        elif not everything:
            merged = list({c.id: c for c in current + adding}.values())
            store.set_followed_components(session=session, channel_id=channel.id, components=merged)
        if not channel.enabled:  # back after blocking: the catch-up follows the new choice
            store.come_back(session=session, channel=channel, now=ctx.now())
        return _view(session, channel, chosen, WORDS[chosen].subscribed)


def unsubscribe(
    ctx: Context, *, platform: Platform, address: str, locale: str, keys: Sequence[str] = ()
) -> Subscription:
    """Stop following `keys`, or leave altogether (the address is deleted) when none."""
    chosen = pick_locale(locale)
    with ctx.sessions() as session, session.begin():
        channel = _own(session, platform, address)
        if channel is None:
            return _view(session, None, chosen, WORDS[chosen].not_subscribed)
        chosen = pick_locale(channel.locale)
        assert channel.id is not None
        leaving = {c.id for c in _components(session, keys, chosen)}
        followed = store.followed_components(session=session, channel_id=channel.id)
        if not followed:
            followed = list(component_store.list_components(session=session))
        staying = [c for c in followed if c.id not in leaving]
        if not keys or not staying:
            store.delete_subscriber(session=session, channel=channel)
            return _view(session, None, chosen, WORDS[chosen].left)
        store.set_followed_components(session=session, channel_id=channel.id, components=staying)
        return _view(session, channel, chosen, WORDS[chosen].unsubscribed)


def choose(
    ctx: Context,
    *,
    platform: Platform,
    address: str,
    locale: str,
    keys: Sequence[str] = (),
) -> Subscription:
    """Follow exactly the services `keys` (every one when none), in `locale`: a form's
    answer, which says the whole choice at once."""
    chosen = pick_locale(locale)
    with ctx.sessions() as session, session.begin():
        channel = _own(session, platform, address)
        components = _components(session, keys, chosen)
        if channel is None:
            channel = store.create_subscriber(
                session=session, platform=platform, address=address, locale=chosen
            )
        assert channel.id is not None
        channel.locale = chosen
        session.add(channel)
        store.set_followed_components(session=session, channel_id=channel.id, components=components)
        if not channel.enabled:  # the catch-up follows the services chosen now
            store.come_back(session=session, channel=channel, now=ctx.now())
        return _view(session, channel, chosen, WORDS[chosen].subscribed)


def toggle(
    ctx: Context, *, platform: Platform, address: str, locale: str, key: str
) -> Subscription:
    """A button under the subscription: follow `key` if not followed, else stop."""
    key = key.lower()
    current = subscription(ctx, platform=platform, address=address, locale=locale)
    if any(c.key == key and c.followed for c in current.choices):
        return unsubscribe(ctx, platform=platform, address=address, locale=locale, keys=[key])
    return subscribe(ctx, platform=platform, address=address, locale=locale, keys=[key])


def set_language(ctx: Context, *, platform: Platform, address: str, asked: str) -> Subscription:
    """Updates in `asked` (it or en) from now on."""
    wanted = asked.strip().lower()
    if wanted not in LOCALES:
        raise UsageError(WORDS["en"].bad_language)
    with ctx.sessions() as session, session.begin():
        channel = _own(session, platform, address)
        if channel is not None:
            channel.locale = wanted
            session.add(channel)
        return _view(session, channel, wanted, WORDS[wanted].language_set)
