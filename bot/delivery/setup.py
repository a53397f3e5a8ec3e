"""Build the worker and its senders from the settings, and wake it on PostgreSQL NOTIFY."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import SecretStr

from bot.database import Database
from bot.delivery.jobs import Destination
from bot.delivery.limits import RateLimits, RateSettings
from bot.delivery.sender_leases import OUTSIDE_LEASE
from bot.delivery.senders import Sender
from bot.delivery.worker import ChannelAlert, DeliveryWorker, WorkerSettings
from bot.settings import Settings
from storage.deliveries import OUTBOX_CHANNEL
from storage.models import Platform, utcnow
from storage.platforms import PLATFORMS, PlatformSpec

log = logging.getLogger(__name__)

# What the registry's `sender` names: a function from settings and limits to a sender.
SenderBuilder = Callable[[Settings, RateLimits], Sender]


def rate_settings(settings: Settings) -> RateSettings:
    """Herald's own pace per bot token: the registry's, but where a setting changes it."""
    return RateSettings(
        {
            Platform.TELEGRAM: settings.telegram_messages_per_second,
            Platform.SLACK: settings.slack_messages_per_second,
        }
    )


def build_limits(
    settings: Settings, database: Database, clock: Callable[[], datetime], holder: str
) -> RateLimits:
    """In memory; on PostgreSQL only for the platforms whose sender lease this worker holds
    (SQLite runs one worker, which sends to every platform)."""
    if settings.is_sqlite:
        return RateLimits(rate_settings(settings), clock=clock)
    from bot.delivery.sender_leases import LeasedRateLimits

    tokens = {
        platform: token
        for platform, one in PLATFORMS.items()
        if one.rates.shared and (token := _credential(settings, one)) is not None
    }
    return LeasedRateLimits(
        rate_settings(settings),
        clock=clock,
        sessions=database.sessions,
        tokens=tokens,
        holder=holder,
    )


def _credential(settings: Settings, one: PlatformSpec) -> str | None:
    """The value of the first setting that switches a platform on (its bot token), if set."""
    if not one.switched_on_by:
        return None
    value = getattr(settings, one.switched_on_by[0])
    if value is None:
        return None
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)


def switched_on(settings: Settings, one: PlatformSpec) -> bool:
    """Whether every setting that switches this platform on is set."""
    return all(getattr(settings, name) is not None for name in one.switched_on_by)


def build_senders(settings: Settings, limits: RateLimits) -> dict[Platform, Sender]:
    """A sender per platform switched on, each built where the registry says."""
    senders: dict[Platform, Sender] = {}
    for platform, one in PLATFORMS.items():
        if switched_on(settings, one):
            module, _, function = one.sender.partition(":")
            build: SenderBuilder = getattr(importlib.import_module(module), function)
            senders[platform] = build(settings, limits)
    return senders


def _alert(settings: Settings, senders: dict[Platform, Sender]) -> ChannelAlert:
    async def tell_responders(text: str) -> None:
        targets: list[Destination] = []
        if settings.slack_incident_channel and Platform.SLACK in senders:
            targets.append(Destination(0, Platform.SLACK, settings.slack_incident_channel, "en"))
        if Platform.TELEGRAM in senders:
            targets.extend(
                Destination(0, Platform.TELEGRAM, chat, "en")
                for chat in settings.telegram_ops_chats
            )
        for target in targets:
            # From any worker, holder of the platform's sender lease or not.
            token = OUTSIDE_LEASE.set(True)
            try:
                await senders[target.platform].probe(target, f"Herald: {text}")
            except Exception as error:
                log.warning("could not alert responders on %s: %s", target.address, error)
            finally:
                OUTSIDE_LEASE.reset(token)
        if not targets:
            log.warning(
                "responders not alerted (no SLACK_INCIDENT_CHANNEL or TELEGRAM_OPS_CHATS): %s", text
            )

    return tell_responders


def build_worker(
    settings: Settings,
    database: Database,
    *,
    clock: Callable[[], datetime] = utcnow,
    limits: RateLimits | None = None,
) -> DeliveryWorker:
    """The delivery worker for this process."""
    name = f"{socket.gethostname()}:{os.getpid()}"
    limits = limits or build_limits(settings, database, clock, name)
    senders = build_senders(settings, limits)
    for platform, one in PLATFORMS.items():
        missing = [n.upper() for n in one.switched_on_by if getattr(settings, n) is None]
        if platform not in senders and len(missing) < len(one.switched_on_by):
            log.warning(
                "%s is half set up: set %s too, or its deliveries wait in the outbox",
                one.name,
                " and ".join(missing),
            )
        elif platform not in senders:
            log.info(
                "no sender for %s: its deliveries wait in the outbox (%s to send them)",
                platform.value,
                one.how_to_switch_on,
            )
    return DeliveryWorker(
        database.sessions,
        senders,
        limits,
        zone=settings.zone,
        clock=clock,
        settings=WorkerSettings(
            concurrency=settings.delivery_concurrency,
            batch=min(200, settings.delivery_concurrency),
            lease=timedelta(seconds=settings.delivery_lease_seconds),
            horizon=timedelta(hours=settings.delivery_retry_horizon_hours),
            poll_seconds=settings.worker_poll_seconds,
        ),
        name=name,
        alert=_alert(settings, senders),
    )


async def keep_sender_leases(worker: DeliveryWorker, stop: asyncio.Event) -> None:
    """On PostgreSQL, take and renew the leases that make this worker a platform's sender."""
    from bot.delivery.sender_leases import LeasedRateLimits

    if isinstance(worker.limits, LeasedRateLimits):
        await worker.limits.keep(stop, taken=worker.wake)


async def close_senders(worker: DeliveryWorker) -> None:
    """Give up the sender leases, then close every sender's connections."""
    from bot.delivery.sender_leases import LeasedRateLimits

    if isinstance(worker.limits, LeasedRateLimits):
        await worker.limits.release()
    for sender in worker.senders.values():
        try:
            await sender.close()
        except Exception:
            log.debug("closing a sender failed", exc_info=True)


async def listen_for_outbox(
    settings: Settings, worker: DeliveryWorker, stop: asyncio.Event
) -> None:
    """On PostgreSQL, wake the worker whenever a transaction queues deliveries."""
    if settings.is_sqlite:
        return
    import psycopg

    url = settings.sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
    lost = False
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(
                url, autocommit=True, connect_timeout=5
            ) as connection:
                await connection.execute(f"LISTEN {OUTBOX_CHANNEL}")
                log.info("listening for new deliveries on %s", OUTBOX_CHANNEL)
                lost = False
                worker.wake()
                while not stop.is_set():
                    async for _ in connection.notifies(timeout=5):
                        worker.wake()
        except (psycopg.Error, OSError) as error:
            if not lost:
                log.warning("LISTEN connection lost (%s); polling until it is back", error)
            lost = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1)
