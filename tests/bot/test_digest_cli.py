"""`herald digest`: the digest printed, the chart written, one-line refusals with exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.test_cli import assert_one_line_complaint, clean_env, herald, migrate
from tests.bot.test_digest_chart import png_size

PUBLIC_URL = "https://status.example"


def test_the_digest_of_a_demo_week_is_printed_and_its_chart_written(demo: Path) -> None:
    env = clean_env(demo, PUBLIC_URL=PUBLIC_URL, SITE_NAME="Stato servizi")
    result = herald(demo, "digest", "--week", "2024-w11", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Stato servizi · weekly digest 2024-W11 (Mon 11/03/2024 → Sun")
    # By hand: INC-4, SEV2 on Posta, opened 14/03/2024 09:20, first update 10:05,
    # resolved 13:15; 235 of the week's 10,080 minutes.
    for line in (
        "Incidents opened: 1 (+1)",
        "  SEV2: 1 (+1)",
        "  SEV1: 0 (±0)",
        "Resolved: 1 (+1)",
        "Mean time to first public update: 45 min (n/a)",
        "Mean time to resolve: 3 h 55 min (n/a)",
        "Longest incident: INC-4 “Problemi nella gestione dell’invio email”, 3 h 55 min (n/a)"
        f" · {PUBLIC_URL}/incidents/4",
        "  Posta: 97.66 % (−2.34 pt) · 235 min of impact (+235 min)",
        "  Web: 100.00 % (±0 pt) · 0 min of impact (±0 min)",
        "Maintenance done: 0 (±0) · 0 min (±0 min)",
        "Still open now: 0",
    ):
        assert line in lines, line
    assert lines[-1] == "Chart: herald-digest-2024-W11.png (1200×900 PNG)"
    assert png_size((demo / "herald-digest-2024-W11.png").read_bytes()) == (1200, 900)


def test_the_chart_goes_where_chart_says(demo: Path) -> None:
    target = demo / "out" / "week.png"
    target.parent.mkdir()
    result = herald(demo, "digest", "--week", "2021-W22", "--chart", "out/week.png")
    assert result.returncode == 0, result.stderr
    assert "Maintenance done: 1 (+1) · 90 min (+90 min)" in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1] == "Chart: out/week.png (1200×900 PNG)"
    assert png_size(target.read_bytes()) == (1200, 900)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--week", "2025-13"), "use an ISO week such as 2025-W05."),
        (("--week", "2025-W54"), "2025 has no week 54; use an ISO week such as 2025-W05."),
        (("--week",), "type herald digest [--week 2025-W05] [--chart FILE.png] [--send]."),
        (("--sned",), "unrecognized arguments: --sned; type herald digest [--week 2025-W05]"),
        (("--week", "2999-W01"), "2999-W01 has not begun yet"),
    ],
)
def test_bad_arguments_exit_2_saying_what_to_type(
    demo: Path, args: tuple[str, ...], says: str
) -> None:
    line = assert_one_line_complaint(herald(demo, "digest", *args), 2)
    assert says in line
    assert not list(demo.glob("*.png"))


def test_a_chart_that_cannot_be_written_exits_1_after_printing_the_digest(demo: Path) -> None:
    result = herald(demo, "digest", "--week", "2024-W11", "--chart", "missing/dir/chart.png")
    assert result.returncode == 1, result.stderr
    assert "  Posta: 97.66 % (−2.34 pt) · 235 min of impact (+235 min)" in result.stdout
    assert "Chart:" not in result.stdout
    [line] = result.stderr.splitlines()
    assert line.startswith("herald: could not write the chart to missing/dir/chart.png (")
    assert line.endswith("); give another file with --chart")


@pytest.mark.parametrize(("chart", "shown"), [("-", "'-'"), ("", "an empty name")])
def test_standard_output_or_no_name_for_the_chart_is_a_usage_error(
    demo: Path, chart: str, shown: str
) -> None:
    line = assert_one_line_complaint(herald(demo, "digest", "--chart", chart), 2)
    assert f"give a file name ending in .png, not {shown}" in line
    assert not list(demo.glob("*.png"))


def test_send_without_a_destination_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    # No database here either: the destinations are checked first, so that is not the complaint.
    line = assert_one_line_complaint(herald(tmp_path, "digest", "--send"), 1)
    assert line == (
        "herald: digest has nowhere to go: set DIGEST_SLACK_CHANNEL and/or DIGEST_TELEGRAM_CHAT"
    )
    assert list(tmp_path.iterdir()) == []


def test_an_existing_chart_of_the_week_is_overwritten(demo: Path) -> None:
    old = demo / "herald-digest-2024-W11.png"
    old.write_bytes(b"last run")
    result = herald(demo, "digest", "--week", "2024-W11")
    assert result.returncode == 0, result.stderr
    assert png_size(old.read_bytes()) == (1200, 900)


def test_without_a_database_the_digest_says_where_it_looked(tmp_path: Path) -> None:
    line = assert_one_line_complaint(herald(tmp_path, "digest"), 1)
    assert line.startswith("herald: There is no Herald database at ")
    assert not (tmp_path / "herald.db").exists()


def test_an_empty_database_has_a_digest_too(tmp_path: Path) -> None:
    migrate(tmp_path)
    result = herald(tmp_path, "digest")
    assert result.returncode == 0, result.stderr
    assert "Incidents opened: 0 (±0)" in result.stdout
    [chart] = tmp_path.glob("herald-digest-*.png")
    assert png_size(chart.read_bytes()) == (1200, 900)


def test_the_usage_names_the_digest(tmp_path: Path) -> None:
    assert (
        "digest [--week 2025-W05] [--chart FILE.png] [--send]" in herald(tmp_path, "--help").stdout
    )
