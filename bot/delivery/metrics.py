"""Prometheus metrics for deliveries: counters in this process, queue gauges from the database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from storage.outbox import queue_depth

SENT = Counter("herald_deliveries_sent", "Deliveries sent", ["platform"])
FAILED = Counter("herald_delivery_failures", "Failed delivery attempts", ["platform", "reason"])
RETRIED = Counter(
    "herald_delivery_retries", "Deliveries scheduled for another attempt", ["platform"]
)
DEAD = Counter("herald_deliveries_dead", "Deliveries given up", ["platform"])


class QueueCollector(Collector):
    """Queue depth and the age of the oldest waiting delivery, read at scrape time."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Read the outbox once per scrape."""
        with self.sessions() as session:
            depth, oldest = queue_depth(session=session)
        age = 0.0 if oldest is None else max(0.0, (self.clock() - oldest).total_seconds())
        yield GaugeMetricFamily(
            "herald_delivery_queue_depth", "Deliveries waiting to be sent", value=depth
        )
        yield GaugeMetricFamily(
            "herald_delivery_oldest_pending_age_seconds",
            "Age of the oldest delivery waiting to be sent",
            value=age,
        )


_registered: list[QueueCollector] = []


def register_queue_metrics(sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
    """Expose the queue gauges (once per process)."""
    if _registered:
        _registered[0].sessions = sessions
        return
    collector = QueueCollector(sessions, clock)
    REGISTRY.register(collector)
    _registered.append(collector)
