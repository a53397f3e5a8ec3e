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


def test_a_chart_that_cannot_be_written_exits_1_before_printing(demo: Path) -> None:
    result = herald(demo, "digest", "--chart", "missing/dir/chart.png")
    line = assert_one_line_complaint(result, 1)
    assert "could not write the chart to missing/dir/chart.png" in line


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
