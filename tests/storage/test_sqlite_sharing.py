"""Several processes writing one SQLite file at once never see "database is locked"."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlmodel import func, select

from commands.context import Actor
from storage.engine import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import Incident, Update
from tests.factories import make_context, run

pytestmark = pytest.mark.slow
WRITERS = 4
OPENS_EACH = 25


def writer(path: str, name: str) -> None:
    engine = make_engine(f"sqlite:///{path}")
    ctx = make_context(make_session_factory(engine), actor=Actor(name, "cli"))
    for n in range(OPENS_EACH):
        reply = run(ctx, f"open Guasto {name} {n} --sev 2")
        run(ctx, f"update {reply.incident_id} Aggiornamento {n}")
    engine.dispose()


def test_concurrent_writers_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    spawn = multiprocessing.get_context("spawn")
    workers = [spawn.Process(target=writer, args=(str(path), f"w{i}")) for i in range(WRITERS)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=120)
    assert [p.exitcode for p in workers] == [0] * WRITERS
    with make_session_factory(engine)() as session:
        assert (
            session.exec(select(func.count()).select_from(Incident)).one() == WRITERS * OPENS_EACH
        )
        assert (
            session.exec(select(func.count()).select_from(Update)).one() == 2 * WRITERS * OPENS_EACH
        )
    engine.dispose()
