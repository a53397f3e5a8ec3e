"""`herald subscribers`: operators list, export and delete the people who subscribed; chat
shows them only as counts."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from commands.subscriptions import subscribe
from storage.engine import make_engine, make_session_factory
from storage.models import Platform
from tests.bot.test_cli import herald, migrate
from tests.factories import make_component, make_context, run


def _people(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{migrate(tmp_path) / 'herald.db'}")
    ctx = make_context(make_session_factory(engine))
    make_component(ctx, "posta", "Posta")
    make_component(ctx, "web", "Web")
    run(ctx, "channels add telegram -1001234567890")
    subscribe(ctx, platform=Platform.TELEGRAM, address="700000001", locale="it", keys=["posta"])
    subscribe(ctx, platform=Platform.TELEGRAM, address="700000002", locale="en")
    engine.dispose()


def test_channels_list_counts_subscribers_and_shows_none_of_their_addresses(
    tmp_path: Path,
) -> None:
    _people(tmp_path)
    listed = herald(tmp_path, "channels", "list")
    assert listed.returncode == 0, listed.stderr
    assert "-1001234567890" in listed.stdout
    assert "700000001" not in listed.stdout
    assert "700000002" not in listed.stdout
    assert "  Telegram 2: every service 1, posta 1" in listed.stdout


def test_export_is_csv_and_remove_deletes_the_address(tmp_path: Path) -> None:
    _people(tmp_path)
    exported = herald(tmp_path, "subscribers", "export")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["address"], r["components"], r["language"]) for r in rows] == [
        ("700000001", "posta", "it"),
        ("700000002", "", "en"),
    ]
    removed = herald(tmp_path, "subscribers", "remove", "700000001")
    assert removed.returncode == 0, removed.stderr
    assert "the address is deleted" in removed.stdout
    listed = herald(tmp_path, "subscribers", "list")
    assert "700000001" not in listed.stdout
    assert "700000002" in listed.stdout
    again = herald(tmp_path, "subscribers", "remove", "700000001")
    assert again.returncode == 1
    assert again.stderr.startswith("herald: No subscriber has the address 700000001")
    operators = herald(tmp_path, "subscribers", "remove", "-1001234567890")
    assert operators.returncode == 1  # an operator's channel is removed with channels remove
    wrong = herald(tmp_path, "subscribers", "drop")
    assert wrong.returncode == 2
    assert "herald subscribers list | export | remove ADDRESS" in wrong.stderr
