"""Fill a Herald database with years of realistic incidents, fast: `python -m bench.seed PATH`.

Rows go in through SQLAlchemy Core bulk inserts with explicit ids, in one
transaction, so 10,000 incidents with 50,000 updates and their deliveries take
seconds, not the minutes the command layer would need.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import SQLModel

from bench import common as isp
from storage.engine import make_engine, normalize_database_url
from storage.migrate import upgrade
from storage.models import DeliveryState, IncidentKind, IncidentStatus, Platform, UpdateKind

Row = dict[str, Any]

CHUNK_ROWS = 5_000
OPEN_SHARE = 0.012
MAINTENANCE_SHARE = 0.10


@dataclass(frozen=True)
class Seeded:
    """What seed() put in the database."""

    incidents: int
    open_incidents: int
    updates: int
    deliveries: int
    sample_incident_id: int
    seconds: float


@dataclass
class _Draft:
    """One incident with its timeline, before ids are given out."""

    incident: Row
    component_ids: list[int]
    updates: list[Row] = field(default_factory=list)


class _Step(NamedTuple):
    """One entry of a maintenance timeline, before it becomes a row."""

    kind: UpdateKind
    status: IncidentStatus
    at: datetime
    text: str
    author: tuple[str, str] | None = None


@dataclass
class _Rows:
    """Every row to insert, table by table, in foreign-key order."""

    component: list[Row] = field(default_factory=list)
    channel: list[Row] = field(default_factory=list)
    channel_component: list[Row] = field(default_factory=list)
    incident: list[Row] = field(default_factory=list)
    incident_component: list[Row] = field(default_factory=list)
    incident_update: list[Row] = field(default_factory=list)
    delivery: list[Row] = field(default_factory=list)

    def tables(self) -> Iterator[tuple[str, list[Row]]]:
        """(table name, rows) in an order the foreign keys accept."""
        yield "component", self.component
        yield "channel", self.channel
        yield "channel_component", self.channel_component
        yield "incident", self.incident
        yield "incident_component", self.incident_component
        yield "incident_update", self.incident_update
        yield "delivery", self.delivery


def database_url(path_or_url: str) -> str:
    """A SQLAlchemy URL from a URL as given or a path to a SQLite file."""
    if "://" in path_or_url:
        return normalize_database_url(path_or_url)
    return f"sqlite:///{Path(path_or_url).resolve()}"


class _Generator:
    """Draws incidents, timelines and deliveries from one seeded random source."""

    def __init__(self, *, rng: random.Random, now: datetime, updates_per_incident: int) -> None:
        self.rng = rng
        self.now = now
        self.per_incident = updates_per_incident
        self.component_ids = {spec.key: n for n, spec in enumerate(isp.COMPONENTS, start=1)}

    # -- small draws ---------------------------------------------------------------------

    def _ago(self, low: timedelta, high: timedelta) -> datetime:
        return self.now - timedelta(
            seconds=self.rng.uniform(low.total_seconds(), high.total_seconds())
        )

    def _person(self) -> tuple[str, str]:
        front_end = self.rng.choices(isp.FRONT_ENDS, weights=isp.FRONT_END_WEIGHTS)[0]
        return self.rng.choice(isp.PEOPLE), front_end

    def _spread(self, start: datetime, end: datetime, count: int) -> list[datetime]:
        """count sorted moments, the first at start and (from two on) the last at end."""
        if count <= 1:
            return [start][:count]
        span = max(0.0, (end - start).total_seconds())
        inner = sorted(self.rng.uniform(0, span) for _ in range(count - 2))
        return [start, *(start + timedelta(seconds=s) for s in inner), end]

    def _night_window(self, day: date) -> tuple[datetime, timedelta]:
        """A maintenance window in the Italian night, as a UTC start and a length."""
        hour = self.rng.choice((22, 23, 0, 1, 2, 6))
        local = datetime(day.year, day.month, day.day, hour, tzinfo=isp.ROME)
        if hour < 12:
            local += timedelta(days=1)
        return local.astimezone(UTC), timedelta(hours=self.rng.choice((1, 2, 2, 3, 4)))

    def _components_at(self, moment: datetime) -> list[isp.ComponentSpec]:
        return [
            spec
            for spec in isp.COMPONENTS
            if self.now - spec.added_ago <= moment
            and (spec.removed_ago is None or moment < self.now - spec.removed_ago)
        ]

    def _pick_components(self, moment: datetime) -> list[isp.ComponentSpec]:
        available = self._components_at(moment)
        primary = self.rng.choices(available, weights=[c.weight for c in available])[0]
        extra = self.rng.choices((0, 1, 2), weights=(70, 22, 8))[0]
        others = [c for c in available if c is not primary]
        return [primary, *self.rng.sample(others, min(extra, len(others)))]

    def _clock(self, moment: datetime) -> str:
        return moment.astimezone(isp.ROME).strftime("%H:%M")

    def _note(self, moment: datetime) -> str:
        return self.rng.choice(isp.NOTES).format(
            ticket=f"#{self.rng.randint(10_000, 99_999)}",
            host=self.rng.choice(isp.HOSTS),
            clock=self._clock(moment + timedelta(minutes=30)),
            customer=f"C{self.rng.randint(1000, 9999)}",
        )

    def _update(
        self,
        *,
        kind: UpdateKind,
        status: IncidentStatus,
        severity: int | None,
        at: datetime,
        text: str,
        author: tuple[str, str] | None = None,
    ) -> Row:
        name, front_end = author or self._person()
        edited = kind != UpdateKind.NOTE and self.rng.random() < 0.02
        return {
            "kind": kind,
            "status": status,
            "severity": severity,
            "text": text,
            "public": kind != UpdateKind.NOTE,
            "author": name,
            "front_end": front_end,
            "at": at,
            "recorded_at": at + timedelta(seconds=self.rng.uniform(0.05, 2.0)),
            "revision": 1 if edited else 0,
            "edited_at": at + timedelta(minutes=self.rng.uniform(2, 20)) if edited else None,
        }

    # -- incidents -----------------------------------------------------------------------

    def _ladder(self, count: int, final: IncidentStatus) -> list[IncidentStatus]:
        """Statuses that only move forward, from investigating to final."""
        ladder = (
            IncidentStatus.INVESTIGATING,
            IncidentStatus.IDENTIFIED,
            IncidentStatus.MONITORING,
        )
        if count <= 1:
            return [final][:count]
        top = ladder.index(final)
        steps = sorted(self.rng.randint(0, top) for _ in range(count))
        steps[0], steps[-1] = 0, top
        return [ladder[s] for s in steps]

    def _text_for(self, status: IncidentStatus, *, changed: bool) -> str:
        if status == IncidentStatus.IDENTIFIED and changed:
            cause = self.rng.choice(isp.CAUSES)
            return f"Il problema è stato causato {cause}.\n{self.rng.choice(isp.ACTIONS)}"
        if status == IncidentStatus.IDENTIFIED:
            return self.rng.choice(isp.STILL_IDENTIFIED)
        if status == IncidentStatus.MONITORING:
            return self.rng.choice(isp.MONITORING if changed else isp.STILL_MONITORING)
        return self.rng.choice(isp.STILL_INVESTIGATING)

    def incident(self, *, is_open: bool) -> _Draft:
        """An incident: resolved long ago, or still open (most recent, a few forgotten)."""
        n = self.per_incident
        severity = self.rng.choices((1, 2, 3, 4), weights=(5, 20, 45, 30))[0]
        took = timedelta(
            seconds=min(7 * 86_400, max(600, self.rng.lognormvariate(math.log(5_400), 1.1)))
        )
        if is_open:
            forgotten = self.rng.random() < 0.15
            opened = (
                self._ago(timedelta(days=3), isp.SPAN)
                if forgotten
                else self._ago(timedelta(minutes=10), timedelta(days=3))
            )
            final = (
                IncidentStatus.MONITORING
                if forgotten
                else self.rng.choices(
                    (
                        IncidentStatus.INVESTIGATING,
                        IncidentStatus.IDENTIFIED,
                        IncidentStatus.MONITORING,
                    ),
                    weights=(3, 3, 4),
                )[0]
            )
            closed = None
            times = self._spread(opened, min(self.now - timedelta(minutes=1), opened + took), n)
            statuses = self._ladder(n, final)
        else:
            opened = self._ago(timedelta(days=2), isp.SPAN)
            closed = min(opened + took, self.now - timedelta(hours=1))
            times = self._spread(opened, closed, n)
            last_open = self.rng.choice((IncidentStatus.IDENTIFIED, IncidentStatus.MONITORING))
            statuses = [*self._ladder(n - 1, last_open), IncidentStatus.RESOLVED]
            final = IncidentStatus.RESOLVED
        specs = self._pick_components(opened)
        title = self.rng.choice(specs[0].titles)
        problem = title[0].lower() + title[1:]
        opener = self._person()
        kinds = [UpdateKind.OPENED]
        for i in range(1, n):
            if statuses[i] == IncidentStatus.RESOLVED:
                kinds.append(UpdateKind.RESOLVED)
            elif statuses[i] != statuses[i - 1] or self.rng.random() > 0.25:
                kinds.append(UpdateKind.UPDATE)
            else:
                kinds.append(UpdateKind.NOTE)
        if not is_open and n >= 5 and self.rng.random() < 0.03:
            kinds[n - 3 : n] = [UpdateKind.RESOLVED, UpdateKind.REOPENED, UpdateKind.RESOLVED]
            statuses[n - 3 : n] = [
                IncidentStatus.RESOLVED,
                IncidentStatus.INVESTIGATING,
                IncidentStatus.RESOLVED,
            ]
        draft = _Draft(
            incident={
                "kind": IncidentKind.INCIDENT,
                "title": title,
                "severity": severity,
                "status": final,
                "opened_by": opener[0],
                "opened_at": opened,
                "closed_at": closed,
                "changed_at": times[-1] if times else opened,
                "window_start": None,
                "window_end": None,
                "auto_transitions": True,
            },
            component_ids=[self.component_ids[s.key] for s in specs],
        )
        previous: IncidentStatus | None = None
        for kind, status, at in zip(kinds, statuses, times, strict=True):
            if kind == UpdateKind.OPENED:
                text = self.rng.choice(isp.OPENINGS).format(
                    problem=problem, name=specs[0].name, clock=self._clock(at)
                )
            elif kind == UpdateKind.RESOLVED:
                apology = isp.APOLOGY if self.rng.random() < 0.5 else ""
                text = self.rng.choice(isp.RESOLUTIONS) + apology
            elif kind == UpdateKind.REOPENED:
                text = isp.REOPENING
            elif kind == UpdateKind.NOTE:
                text = self._note(at)
            else:
                text = self._text_for(status, changed=status != previous)
            author = opener if kind == UpdateKind.OPENED else None
            if kind != UpdateKind.NOTE:
                previous = status
            draft.updates.append(
                self._update(
                    kind=kind, status=status, severity=severity, at=at, text=text, author=author
                )
            )
        return draft

    # -- maintenance ---------------------------------------------------------------------

    def maintenance(self, *, state: IncidentStatus) -> _Draft:
        """A maintenance window: completed or cancelled in the past, or scheduled or running."""
        n = self.per_incident
        if state == IncidentStatus.SCHEDULED:
            day = (self.now + timedelta(days=self.rng.randint(1, 30))).date()
            start, length = self._night_window(day)
            opened = self._ago(timedelta(hours=1), min(timedelta(days=10), start - self.now))
        elif state == IncidentStatus.IN_PROGRESS:
            length = timedelta(hours=self.rng.choice((2, 3, 4)))
            start = self._ago(timedelta(minutes=5), length - timedelta(minutes=30))
            opened = start - timedelta(days=self.rng.uniform(3, 14))
        else:
            day = self._ago(timedelta(days=2), isp.SPAN - timedelta(days=14)).date()
            start, length = self._night_window(day)
            opened = start - timedelta(days=self.rng.uniform(3, 14))
        end = start + length
        specs = self._pick_components(start)
        auto = self.rng.random() < 0.8
        planner = self._person()
        runner = ("Herald", "scheduler") if auto else planner
        latest = self.now - timedelta(minutes=1)
        detail = self.rng.choice(isp.MAINTENANCE_DETAIL).format(
            impact=self.rng.choice(isp.MAINTENANCE_IMPACTS), minutes=self.rng.choice((20, 30, 45))
        )
        steps = [
            _Step(
                UpdateKind.MAINTENANCE_SCHEDULED, IncidentStatus.SCHEDULED, opened, detail, planner
            )
        ]
        closed: datetime | None = None
        if state == IncidentStatus.SCHEDULED:
            for at in self._spread(opened, latest, n)[1:]:
                steps.append(self._aside(IncidentStatus.SCHEDULED, at, reminders=True))
        elif state == IncidentStatus.CANCELLED:
            closed = opened + (start - opened) * self.rng.uniform(0.3, 0.95)
            for at in self._spread(opened, closed, n)[1:-1]:
                steps.append(self._aside(IncidentStatus.SCHEDULED, at, reminders=True))
            text = self.rng.choice(isp.CANCELLATIONS)
            steps.append(
                _Step(
                    UpdateKind.MAINTENANCE_CANCELLED,
                    IncidentStatus.CANCELLED,
                    closed,
                    text,
                    planner,
                )
            )
        else:
            started = start + timedelta(minutes=self.rng.uniform(0, 5))
            before = (n - 2) // 2 if state == IncidentStatus.IN_PROGRESS else max(0, n - 3) // 2
            for at in self._spread(opened, start, before + 2)[1:-1]:
                steps.append(self._aside(IncidentStatus.SCHEDULED, at, reminders=True))
            if state == IncidentStatus.IN_PROGRESS or n >= 3:
                steps.append(
                    _Step(
                        UpdateKind.MAINTENANCE_STARTED,
                        IncidentStatus.IN_PROGRESS,
                        started,
                        "",
                        runner,
                    )
                )
            if state == IncidentStatus.IN_PROGRESS:
                for at in self._spread(started, latest, n - len(steps) + 1)[1:]:
                    steps.append(self._aside(IncidentStatus.IN_PROGRESS, at, reminders=False))
            else:
                after = n - len(steps) - 1
                planned_end = end
                extended = after >= 1 and self.rng.random() < 0.1
                if extended:
                    end += timedelta(hours=1)
                    closed = planned_end + (end - planned_end) * self.rng.uniform(0.2, 1.0)
                else:
                    closed = started + (end - started) * self.rng.uniform(0.4, 1.0)
                asides = self._spread(started, min(closed, planned_end), after + 2)[1:-1]
                for i, at in enumerate(asides):
                    if extended and i == len(asides) - 1:
                        steps.append(
                            _Step(
                                UpdateKind.MAINTENANCE_EXTENDED,
                                IncidentStatus.IN_PROGRESS,
                                at,
                                isp.EXTENSION,
                                planner,
                            )
                        )
                    else:
                        steps.append(self._aside(IncidentStatus.IN_PROGRESS, at, reminders=False))
                text = self.rng.choice(isp.COMPLETIONS)
                steps.append(
                    _Step(
                        UpdateKind.MAINTENANCE_COMPLETED,
                        IncidentStatus.COMPLETED,
                        closed,
                        text,
                        runner,
                    )
                )
        assert len(steps) == n, (state, n, len(steps))
        draft = _Draft(
            incident={
                "kind": IncidentKind.MAINTENANCE,
                "title": self.rng.choice(isp.MAINTENANCE_TITLES[specs[0].key]),
                "severity": None,
                "status": state,
                "opened_by": planner[0],
                "opened_at": opened,
                "closed_at": closed,
                "changed_at": max(step.at for step in steps),
                "window_start": start,
                "window_end": end,
                "auto_transitions": auto,
            },
            component_ids=[self.component_ids[s.key] for s in specs],
        )
        for step in steps:
            draft.updates.append(
                self._update(
                    kind=step.kind,
                    status=step.status,
                    severity=None,
                    at=step.at,
                    text=step.text,
                    author=step.author,
                )
            )
        return draft

    def _aside(self, status: IncidentStatus, at: datetime, *, reminders: bool) -> _Step:
        """A reminder to customers, or an internal note."""
        if reminders and self.rng.random() < 0.6:
            return _Step(UpdateKind.UPDATE, status, at, self.rng.choice(isp.REMINDERS))
        text = self.rng.choice(isp.MAINTENANCE_NOTES).format(host=self.rng.choice(isp.HOSTS))
        return _Step(UpdateKind.NOTE, status, at, text)

    # -- deliveries ----------------------------------------------------------------------

    def deliveries(self, incident: Row, component_ids: list[int], updates: list[Row]) -> list[Row]:
        """One delivery per public update and revision to every channel that follows it."""
        rows: list[Row] = []
        for channel_id, spec in enumerate(isp.CHANNELS, start=1):
            wanted = {self.component_ids[k] for k in spec.component_keys}
            if wanted and not wanted.intersection(component_ids):
                continue
            severity = incident["severity"]
            if (
                incident["kind"] == IncidentKind.INCIDENT
                and spec.min_severity is not None
                and severity is not None
                and severity > spec.min_severity
            ):
                continue
            if (
                spec.disabled_ago is not None
                and incident["opened_at"] >= self.now - spec.disabled_ago
            ):
                continue
            for update in updates:
                if not update["public"]:
                    continue
                for revision in range(update["revision"] + 1):
                    at = update["at"] if revision == 0 else update["edited_at"]
                    rows.append(self._delivery(update["id"], channel_id, spec, revision, at))
        return rows

    def _delivery(
        self, update_id: int, channel_id: int, spec: isp.ChannelSpec, revision: int, at: datetime
    ) -> Row:
        row: Row = {
            "update_id": update_id,
            "channel_id": channel_id,
            "revision": revision,
            "state": DeliveryState.SENT,
            "attempts": 1,
            "next_attempt_at": at,
            "last_error": None,
            "remote_ref": None,
            "sent_at": at + timedelta(seconds=self.rng.uniform(0.5, 20)),
            "created_at": at,
        }
        draw = self.rng.random()
        if at > self.now - timedelta(minutes=2):
            row.update(state=DeliveryState.PENDING, attempts=0, sent_at=None)
        elif draw < 0.002:
            row.update(
                state=DeliveryState.DEAD,
                attempts=8,
                last_error=isp.DEAD_ERRORS[spec.platform],
                sent_at=None,
                next_attempt_at=at + timedelta(hours=6),
            )
        elif draw < 0.007:
            row.update(attempts=self.rng.randint(2, 3))
        if row["state"] == DeliveryState.SENT and spec.platform == Platform.TELEGRAM:
            row["remote_ref"] = str(self.rng.randint(1_000, 999_999))
        elif row["state"] == DeliveryState.SENT and spec.platform == Platform.SLACK:
            row["remote_ref"] = f"{at.timestamp():.6f}"
        return row


def _static_rows(rows: _Rows, now: datetime) -> None:
    component_ids = {spec.key: n for n, spec in enumerate(isp.COMPONENTS, start=1)}
    for n, spec in enumerate(isp.COMPONENTS, start=1):
        rows.component.append(
            {
                "id": n,
                "key": spec.key,
                "name": spec.name,
                "created_at": now - spec.added_ago,
                "removed_at": None if spec.removed_ago is None else now - spec.removed_ago,
            }
        )
    for n, channel in enumerate(isp.CHANNELS, start=1):
        rows.channel.append(
            {
                "id": n,
                "platform": channel.platform,
                "address": channel.address,
                "locale": channel.locale,
                "min_severity": channel.min_severity,
                "enabled": channel.disabled_ago is None,
                "disabled_reason": channel.disabled_reason,
                "secret": channel.secret,
                "created_at": now - isp.SPAN - timedelta(days=20),
            }
        )
        rows.channel_component.extend(
            {"channel_id": n, "component_id": component_ids[key]} for key in channel.component_keys
        )


def _draw(
    *, incidents: int, updates_per_incident: int, now: datetime, rng: random.Random
) -> tuple[_Rows, int, int]:
    """Every row, with ids in opening order; also the open count and a mid incident's id."""
    maker = _Generator(rng=rng, now=now, updates_per_incident=updates_per_incident)
    rows = _Rows()
    _static_rows(rows, now)
    open_total = max(1, round(incidents * OPEN_SHARE)) if incidents else 0
    open_maintenance = round(open_total * 0.25)
    maintenance_total = max(open_maintenance, round(incidents * MAINTENANCE_SHARE))
    drafts: list[_Draft] = []
    for n in range(maintenance_total):
        if n < open_maintenance:
            state = IncidentStatus.SCHEDULED if n % 3 else IncidentStatus.IN_PROGRESS
        else:
            state = IncidentStatus.CANCELLED if rng.random() < 0.08 else IncidentStatus.COMPLETED
        drafts.append(maker.maintenance(state=state))
    for n in range(incidents - maintenance_total):
        drafts.append(maker.incident(is_open=n < open_total - open_maintenance))
    drafts.sort(key=lambda d: d.incident["opened_at"])
    update_id = 0
    for incident_id, draft in enumerate(drafts, start=1):
        rows.incident.append({"id": incident_id, **draft.incident})
        rows.incident_component.extend(
            {"incident_id": incident_id, "component_id": c} for c in draft.component_ids
        )
        for number, update in enumerate(draft.updates, start=1):
            update_id += 1
            update.update(id=update_id, incident_id=incident_id, number=number)
        rows.incident_update.extend(draft.updates)
        rows.delivery.extend(maker.deliveries(draft.incident, draft.component_ids, draft.updates))
    for delivery_id, delivery in enumerate(rows.delivery, start=1):
        delivery["id"] = delivery_id
    middle = len(drafts) // 2
    sample = next(
        (
            i + 1
            for i in sorted(range(len(drafts)), key=lambda i: abs(i - middle))
            if drafts[i].incident["kind"] == IncidentKind.INCIDENT
        ),
        middle + 1,
    )
    return rows, open_total, sample


def _chunks(rows: list[Row]) -> Iterator[list[Row]]:
    for start in range(0, len(rows), CHUNK_ROWS):
        yield rows[start : start + CHUNK_ROWS]


def seed(
    url: str,
    incidents: int = 10_000,
    updates_per_incident: int = 5,
    *,
    now: datetime | None = None,
    random_seed: int = 2025,
) -> Seeded:
    """Migrate an empty database and fill it with incidents spread over three years."""
    if updates_per_incident < 2:
        raise ValueError("updates_per_incident must be at least 2 (an opening and a closing)")
    began = time.perf_counter()
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    rows, open_total, sample = _draw(
        incidents=incidents,
        updates_per_incident=updates_per_incident,
        now=now,
        rng=random.Random(random_seed),
    )
    engine = make_engine(database_url(url))
    try:
        upgrade(engine)
        tables = SQLModel.metadata.tables
        with engine.begin() as connection:
            for name in ("incident", "component", "channel"):
                found = connection.execute(sa.select(sa.func.count()).select_from(tables[name]))
                if found.scalar_one():
                    raise ValueError(f"the database already has rows in {name}; seed an empty one")
            for name, table_rows in rows.tables():
                for chunk in _chunks(table_rows):
                    connection.execute(tables[name].insert(), chunk)
            if connection.dialect.name == "postgresql":
                # Explicit ids leave the sequences at 1; move them past the seeded rows.
                for name in ("component", "channel", "incident", "incident_update", "delivery"):
                    table = tables[name]
                    highest = sa.select(sa.func.max(table.c.id)).scalar_subquery()
                    sequence = sa.func.pg_get_serial_sequence(name, "id")
                    connection.execute(sa.select(sa.func.setval(sequence, highest)))
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                # Autovacuum would analyze the new rows soon; do it now for stable plans.
                connection.exec_driver_sql("ANALYZE")
                connection.commit()
        else:
            # Outside any transaction (the engine's BEGIN IMMEDIATE would block it), so the
            # file is whole without its -wal.
            raw = engine.raw_connection()
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
    finally:
        engine.dispose()
    return Seeded(
        incidents=len(rows.incident),
        open_incidents=open_total,
        updates=len(rows.incident_update),
        deliveries=len(rows.delivery),
        sample_incident_id=sample,
        seconds=time.perf_counter() - began,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Seed the database named on the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__)
    parser.add_argument("database", help="a SQLite file path or a database URL")
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--updates-per-incident", type=int, default=5)
    parser.add_argument("--random-seed", type=int, default=2025)
    args = parser.parse_args(argv)
    try:
        seeded = seed(
            args.database,
            args.incidents,
            args.updates_per_incident,
            random_seed=args.random_seed,
        )
    except ValueError as error:
        print(f"bench.seed: {error}", file=sys.stderr)
        return 1
    print(
        f"seeded {seeded.incidents} incidents ({seeded.open_incidents} open), "
        f"{seeded.updates} updates, {seeded.deliveries} deliveries in {seeded.seconds:.1f} s; "
        f"try: herald show INC-{seeded.sample_incident_id}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
