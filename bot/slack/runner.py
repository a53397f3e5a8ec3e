"""Slack's deadline: the person hears from Herald before Slack shows its own error."""

from __future__ import annotations

# Slack shows an error after 3 s; whatever happens, the person hears from Herald before that.
DEADLINE_SECONDS = 2.5
