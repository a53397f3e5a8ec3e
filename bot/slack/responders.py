"""SLACK_RESPONDERS: who may change incidents, with user groups resolved and cached."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.slack.http import SlackHttp
from commands.errors import Refused

log = logging.getLogger(__name__)

GROUP_TTL_SECONDS = 300.0


class ResponderCheckFailed(Refused):
    """A user group could not be read from Slack and was never read before."""


class Responders:
    """User ids (U…, W…) allowed outright, and user groups (S…) read from Slack when needed."""

    def __init__(
        self,
        ids: Sequence[str],
        http: SlackHttp,
        *,
        clock: Callable[[], float] = time.monotonic,
        ttl: float = GROUP_TTL_SECONDS,
    ) -> None:
        self.users = frozenset(i for i in ids if not i.startswith("S"))
        self.groups = tuple(i for i in ids if i.startswith("S"))
        self.http = http
        self.clock = clock
        self.ttl = ttl
        self._members: dict[str, tuple[float, frozenset[str]]] = {}

    async def includes(self, user_id: str) -> bool:
        """Whether this Slack user may change incidents, components and channels."""
        if user_id in self.users:
            return True
        for group in self.groups:
            if user_id in await self._group(group):
                return True
        return False

    async def _group(self, group: str) -> frozenset[str]:
        cached = self._members.get(group)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        try:
            response = await self.http.client().usergroups_users_list(usergroup=group)
        except (SlackApiError, aiohttp.ClientError, TimeoutError) as error:
            if cached is not None:
                # Slack is down or rate-limited: the last known members still decide.
                log.warning(
                    "user group %s not refreshed (%s); using the cached members", group, error
                )
                return cached[1]
            raise ResponderCheckFailed(
                f"Could not check whether you are in the responders' group {group} "
                "(Slack did not answer); try again in a minute."
            ) from error
        members = frozenset(str(u) for u in response.get("users") or [])
        self._members[group] = (self.clock(), members)
        return members

    def grant_hint(self, user_id: str) -> str:
        """Who can grant access, for the refusal that NotAllowed carries."""
        if not self.users and not self.groups:
            return (
                "no one may yet: a Herald administrator has to list Slack user or group ids "
                f"in SLACK_RESPONDERS (yours is {user_id})"
            )
        return (
            f"ask a Herald administrator to add your Slack id {user_id} (or a group you are in) "
            "to SLACK_RESPONDERS"
        )

    def listing(self) -> str:
        """The responders for the line under a refusal (ephemeral: a user mention pings no one;
        a group is named by id, since a group mention could)."""
        people = [f"<@{u}>" for u in sorted(self.users)]
        people += [f"group `{g}`" for g in self.groups]
        return ", ".join(people)
