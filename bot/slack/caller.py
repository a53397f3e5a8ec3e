"""Who sent a Slack request, from where, and how to answer them."""

from __future__ import annotations

import html
import json
import logging
import re
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.frontend.runner import Person
from bot.slack.http import SlackHttp

log = logging.getLogger(__name__)

# Slack writes mentions, channels and links as <…> control sequences; a person typed them
# as @name, #channel or a URL, and that is what Herald stores (and escapes again on output).
_CONTROL = re.compile(r"<([@#!])?([^<>|]*)(?:\|([^<>]*))?>")


def plain_text(text: str) -> str:
    """Slash-command text as the person typed it: control sequences and entities undone."""

    def typed(match: re.Match[str]) -> str:
        sigil, target, label = match[1], match[2], match[3] or ""
        if sigil == "!":
            word, _, rest = target.partition("^")
            if word in ("channel", "here", "everyone"):
                return f"@{word}"
            if word == "subteam":
                return label if label.startswith("@") else f"@{label or rest}"
            return label or target
        if sigil is not None:
            return f"{sigil}{label or target}"
        return label if target.startswith("mailto:") and label else target

    return html.unescape(_CONTROL.sub(typed, text))


@dataclass(frozen=True)
class Caller:
    """The person behind a command, a button or a modal, and where their answers go."""

    user_id: str
    user_name: str = ""
    channel_id: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None

    @property
    def person(self) -> Person:
        """The person to the front-end core: `slack:U123 (alice)` in audits and timelines."""
        return Person("slack", self.user_id, self.user_name)

    def with_metadata(self, metadata: str) -> Caller:
        """The caller of a modal, with the channel and response_url its opener stored."""
        try:
            stored = json.loads(metadata or "{}")
        except ValueError:
            stored = {}
        return replace(
            self,
            channel_id=stored.get("channel") or self.channel_id,
            response_url=stored.get("response_url") or self.response_url,
        )


def caller_of(body: dict[str, Any]) -> Caller:
    """The caller of a slash command or an interaction payload."""
    if "command" in body:
        return Caller(
            user_id=str(body.get("user_id", "")),
            user_name=str(body.get("user_name", "")),
            channel_id=body.get("channel_id"),
            response_url=body.get("response_url"),
            trigger_id=body.get("trigger_id"),
        )
    user = body.get("user") or {}
    channel = body.get("channel") or body.get("container") or {}
    urls = body.get("response_urls") or []
    return Caller(
        user_id=str(user.get("id", "")),
        user_name=str(user.get("username") or user.get("name") or ""),
        channel_id=channel.get("id") or channel.get("channel_id"),
        response_url=body.get("response_url") or (urls[0]["response_url"] if urls else None),
        trigger_id=body.get("trigger_id"),
    )


class Answers:
    """Sends what Herald says to one person: by response_url, else as an ephemeral message."""

    def __init__(self, http: SlackHttp) -> None:
        self.http = http

    async def tell(
        self,
        caller: Caller,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        in_channel: bool = False,
    ) -> None:
        """Answer the caller; a failure to answer is logged, never raised."""
        try:
            if caller.response_url:
                answered = await self.http.webhook(caller.response_url).send(
                    text=text,
                    blocks=blocks,
                    response_type="in_channel" if in_channel else "ephemeral",
                    replace_original=False,
                )
                if answered.status_code == 200:
                    return
                # A response_url serves 5 answers in 30 minutes; a modal left open longer
                # must still tell the person what happened, so fall back to the channel.
                log.warning(
                    "response_url refused the answer to %s: %s %s",
                    caller.user_id,
                    answered.status_code,
                    answered.body[:200],
                )
            if caller.channel_id and in_channel:
                await self.http.client().chat_postMessage(
                    channel=caller.channel_id, text=text, blocks=blocks
                )
            elif caller.channel_id:
                await self.http.client().chat_postEphemeral(
                    channel=caller.channel_id, user=caller.user_id, text=text, blocks=blocks
                )
            else:
                log.warning("no way to answer %s: %s", caller.user_id, text[:200])
        except (SlackApiError, aiohttp.ClientError, OSError, TimeoutError) as error:
            log.warning("could not answer %s: %s", caller.user_id, error)
