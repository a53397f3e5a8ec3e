"""`open` and `update` with thousands of subscribers: how long the engineer waits, and
how long until every subscriber's delivery row exists.

The rows are written in the update's own transaction (one INSERT … SELECT), so they
exist the moment the command answers; the bench checks it by counting them right after.
Subscribers: half follow Posta, a quarter Web, a quarter every service; the incident
touches Posta, so three in four get it.

Run from the repository root:
    python -m bench.subscribers                                   # SQLite, 10,000 and 100,000
    python -m bench.subscribers --database-url postgresql://…/EMPTY_DB
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, func, select

from commands.context import Actor, Context
from commands.dispatch import run_text
from storage.engine import make_engine, make_session_factory, normalize_database_url
from storage.migrate import upgrade
from storage.models import Channel, ChannelComponent, Component, Delivery, Owner, Platform, Update
from tests.factories import ROME

SIZES = (10_000, 100_000)
RUNS = 3
TARGET_MS = 1000.0  # at 10,000 subscribers, on PostgreSQL
CHUNK = 5_000


def _context(sessions: sessionmaker[Session]) -> Context:
    return Context(sessions=sessions, zone=ROME, locale="it", actor=Actor("bench", "cli"))


def _add_subscribers(sessions: sessionmaker[Session], start: int, stop: int) -> None:
    """Subscribers `start`…`stop - 1` (Telegram private chats), in chunks of rows."""
    with sessions() as session, session.begin():
        components = {c.key: c.id for c in session.exec(select(Component)).all()}
    for first in range(start, stop, CHUNK):
        numbers = range(first, min(stop, first + CHUNK))
        with sessions() as session, session.begin():
            session.execute(
                sa.insert(Channel),
                [
                    {
                        "platform": Platform.TELEGRAM,
                        "address": str(700_000_000 + n),
                        "locale": "it",
                        "enabled": True,
                        "owner": Owner.SUBSCRIBER,
                        "audience": "public",
                    }
                    for n in numbers
                ],
            )
            ids = dict(
                session.exec(
                    select(Channel.address, Channel.id).where(
                        col(Channel.address).in_([str(700_000_000 + n) for n in numbers])
                    )
                ).all()
            )
            rows = []
            for n in numbers:
                key = "posta" if n % 4 < 2 else "web" if n % 4 == 2 else None
                if key is not None:
                    rows.append(
                        {"channel_id": ids[str(700_000_000 + n)], "component_id": components[key]}
                    )
            if rows:
                session.execute(sa.insert(ChannelComponent), rows)


def _timed(ctx: Context, text: str) -> tuple[float, str]:
    started = time.perf_counter()
    reply = run_text(text, ctx)
    return (time.perf_counter() - started) * 1000, reply.text


def _rows_of_latest(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        latest = session.exec(select(func.max(Update.id))).one()
        return int(
            session.exec(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.update_id == latest, Delivery.revision == 0)
            ).one()
        )


def measure(sessions: sessionmaker[Session], size: int) -> dict[str, float]:
    """Median and worst of `open` and `update` over RUNS runs at `size` subscribers."""
    ctx = _context(sessions)
    expected = size - size // 4  # the Web quarter does not follow a Posta incident
    opens: list[float] = []
    updates: list[float] = []
    for run in range(RUNS):
        took, reply = _timed(ctx, f'open "Posta lenta {size}-{run}" --sev 2 --components posta')
        assert _rows_of_latest(sessions) == expected, reply
        opens.append(took)
        incident = reply.split()[1].rstrip(":")
        took, _ = _timed(ctx, f"update {incident} --status identified Trovata la causa")
        assert _rows_of_latest(sessions) == expected
        updates.append(took)
        run_text(f"resolve {incident} Risolto", ctx)
    return {
        "open_p50": statistics.median(opens),
        "open_max": max(opens),
        "update_p50": statistics.median(updates),
        "update_max": max(updates),
        "rows": float(expected),
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Measure at each size and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an EMPTY PostgreSQL database (default SQLite)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        url = args.database_url or f"sqlite:///{Path(workdir) / 'bench.db'}"
        engine = make_engine(normalize_database_url(url))
        upgrade(engine)
        sessions = make_session_factory(engine)
        ctx = _context(sessions)
        run_text("components add posta Posta", ctx)
        run_text("components add web Web", ctx)
        print(f"engine: {engine.dialect.name}; {RUNS} runs per size; the answer includes the rows")
        print(
            f"{'subscribers':>11} | {'open p50':>9} | {'open max':>9} | "
            f"{'update p50':>10} | {'update max':>10} | {'rows':>7}"
        )
        have = 0
        for size in SIZES:
            _add_subscribers(sessions, have, size)
            have = size
            with engine.connect() as connection:
                if engine.dialect.name == "postgresql":
                    connection.execute(sa.text("ANALYZE"))
            figures = measure(sessions, size)
            print(
                f"{size:>11,} | {figures['open_p50']:>7.0f}ms | {figures['open_max']:>7.0f}ms | "
                f"{figures['update_p50']:>8.0f}ms | {figures['update_max']:>8.0f}ms | "
                f"{int(figures['rows']):>7,}"
            )
        engine.dispose()
    print(f"target: open and update answer in under {TARGET_MS:.0f} ms at 10,000 on PostgreSQL")


if __name__ == "__main__":
    main()
