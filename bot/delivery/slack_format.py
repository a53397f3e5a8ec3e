"""Posts as Slack Block Kit, with user text escaped so nobody gets pinged by accident."""

from __future__ import annotations

from typing import Any

from bot.delivery.jobs import RootView
from bot.delivery.telegram_format import split_text
from commands.phrases import EDITED
from commands.wording import PublicPost

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
MAX_BLOCKS = 50
STATUS_WORD = {"it": "Stato", "en": "Status"}


def mrkdwn_escape(text: str) -> str:
    """Escape &, < and > so `<!channel>` or `<@U…>` typed by a person stays plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _header(text: str) -> dict[str, Any]:
    if len(text) > HEADER_LIMIT:
        text = text[: HEADER_LIMIT - 1] + "…"
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _blocks(headline: str, body: str, context: list[str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [_header(headline)]
    for chunk in split_text(mrkdwn_escape(body), SECTION_LIMIT):
        if chunk:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    blocks = blocks[: MAX_BLOCKS - 1]
    elements = [{"type": "mrkdwn", "text": mrkdwn_escape(item)} for item in context if item]
    blocks.append({"type": "context", "elements": elements[:10]})
    return blocks


def post_message(post: PublicPost) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and blocks for an update."""
    stamp = f"{post.stamp} {EDITED[post.locale]}" if post.edited else post.stamp
    fallback = mrkdwn_escape(f"{post.headline} — {stamp}\n{post.body}")
    return fallback, _blocks(post.headline, post.body, [stamp, post.status])


def root_message(root: RootView) -> tuple[str, list[dict[str, Any]]]:
    """Fallback text and blocks for the thread's first message, as it should read now."""
    post = root.post
    headline = f"{post.label}: {root.title}"
    context = [post.stamp, f"{STATUS_WORD[post.locale]}: {root.status}"]
    if post.impact:
        context.append(post.impact)
    fallback = mrkdwn_escape(f"{headline} — {root.status}\n{post.body}")
    return fallback, _blocks(headline, post.body, context)
