"""What every chat front-end says about an incident the same way: its severity."""

from __future__ import annotations

from commands.wording import impact_label


def severity_text(severity: int | None, locale: str) -> str:
    """`SEV2 · Disservizio grave`, or `maintenance`."""
    if severity is None:
        return "maintenance"
    return f"SEV{severity} · {impact_label(severity, locale=locale)}"
