"""Cron expressions, read by croniter: what is wrong with one, in words."""

from __future__ import annotations

from croniter import CroniterBadDateError, croniter


def cron_problem(expression: str) -> str | None:
    """Why `expression` cannot schedule anything, or None when it can."""
    if len(expression.split()) != 5 or not croniter.is_valid(expression):
        return (
            f"{expression!r} is not a cron expression; use five fields such as '0 9 * * 1' "
            "(minute hour day month weekday: Mondays at 09:00 in TIMEZONE)"
        )
    try:
        croniter(expression).get_next()
    except CroniterBadDateError:
        return (
            f"{expression!r} names no day that exists (such as 31 February); "
            "use one that does, such as '0 9 * * 1'"
        )
    return None
