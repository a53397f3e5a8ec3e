"""A scripted in-memory sender and a worker on the fake clock, for delivery tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from bot.delivery.errors import DeliveryError, RateLimited
from bot.delivery.jobs import DeliveryJob, Destination
from bot.delivery.limits import RateLimits, RateSettings, Unlimited
from bot.delivery.operations import Operation, Outcome, Progress, RefreshOpening, Sent, failure
from bot.delivery.worker import DeliveryWorker, WorkerSettings
from storage.models import Channel, Delivery, DeliveryState, Platform, Update
from tests.factories import ROME, FakeClock


@dataclass
class Call:
    """One operation a sender received."""

    address: str
    incident_id: int
    update_number: int
    revision: int
    is_root: bool
    text: str


@dataclass
class ScriptedSender:
    """Records every job; raises what `script(job)` returns, if anything."""

    clock: FakeClock
    script: Callable[[DeliveryJob], DeliveryError | None] = lambda job: None
    calls: list[tuple[float, Call]] = field(default_factory=list)
    scope_key: str = "scripted"
    counter: int = 0
    delivered: list[Call] = field(default_factory=list)
    refreshes: list[Call] = field(default_factory=list)
    limits: RateLimits | None = None

    def scope(self, destination: Destination) -> str:
        return self.scope_key

    async def perform(self, operation: Operation, progress: Progress) -> Outcome:
        job = operation.job
        if self.limits is not None:
            await self.limits.acquire(
                job.destination.platform, job.destination.address, self.scope_key
            )
        sent = Call(
            job.destination.address,
            job.incident_id,
            job.post.update_number,
            job.revision,
            job.is_root,
            job.post.body,
        )
        self.calls.append((self.clock.current.timestamp(), sent))
        error = self.script(job)
        if isinstance(error, RateLimited) and self.limits is not None:
            await self.limits.pause(error.scope, error.retry_after)  # as the real senders do
        if error is not None:
            return failure(error)
        if isinstance(operation, RefreshOpening):
            self.refreshes.append(sent)
            return Sent()
        self.delivered.append(sent)
        self.counter += 1
        return Sent(None if job.revision != 0 else f"m{self.counter}")

    async def probe(self, destination: Destination, text: str) -> str:
        return "ok"

    async def close(self) -> None:
        return None

    def sent(self) -> list[Call]:
        return [s for _, s in self.calls]


def make_worker(
    sessions: sessionmaker[Session],
    clock: FakeClock,
    sender: ScriptedSender,
    *,
    platform: Platform = Platform.TELEGRAM,
    settings: WorkerSettings | None = None,
    name: str = "test-worker",
) -> DeliveryWorker:
    """A worker whose only sender is `sender`, on the fake clock, with no limiter waits."""
    limits = Unlimited(RateSettings(), clock=clock)
    sender.limits = limits
    return DeliveryWorker(
        sessions,
        {platform: sender},
        limits,
        zone=ROME,
        clock=clock,
        settings=settings or WorkerSettings(),
        name=name,
    )


def states(sessions: sessionmaker[Session]) -> dict[tuple[str, int, int], DeliveryState]:
    """(channel address, update number, revision) -> state of every delivery."""
    with sessions() as session:
        rows = session.exec(
            select(Channel.address, Update.number, Delivery.revision, Delivery.state)
            .join(Delivery, col(Delivery.channel_id) == col(Channel.id))
            .join(Update, col(Update.id) == col(Delivery.update_id))
        ).all()
    return {(a, n, r): DeliveryState(s) for a, n, r, s in rows}
