"""Posts as Telegram HTML: every piece of user text escaped, long texts split at boundaries."""

from __future__ import annotations

import re
from html import escape, unescape

from bot.delivery.jobs import RootView
from commands.phrases import EDITED
from commands.wording import PublicPost

LIMIT = 4096
STATUS_WORD = {"it": "Stato", "en": "Status"}
_TAG = re.compile(r"<[^>]+>")


def split_text(text: str, size: int) -> list[str]:
    """Cut text into pieces of at most `size` characters at paragraphs, lines or words."""
    pieces: list[str] = []
    rest = text
    while len(rest) > size:
        window = rest[:size]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < size // 2:
            cut = window.rfind(" ")
        if cut < size // 2:
            cut = size
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    pieces.append(rest)
    return [p for p in pieces if p] or [""]


def visible(html_text: str) -> str:
    """The text Telegram counts and shows: markup removed, entities decoded."""
    return unescape(_TAG.sub("", html_text))


def _messages(headline: str, stamp: str, body: str, tail: str = "") -> list[str]:
    head = f"<b>{escape(headline, quote=False)}</b>\n<i>{escape(stamp, quote=False)}</i>"
    room = LIMIT - len(visible(head)) - len(visible(tail)) - 8
    chunks = split_text(body, room)
    messages = []
    for index, chunk in enumerate(chunks):
        top = head if index == 0 else f"<i>{escape(headline, quote=False)} ({index + 1})</i>"
        bottom = tail if index == len(chunks) - 1 else ""
        parts = [top, escape(chunk, quote=False), bottom]
        messages.append("\n\n".join(p for p in parts if p))
    return messages


def post_html(post: PublicPost) -> list[str]:
    """An update as one or more HTML messages: bold headline, italic stamp, the text."""
    stamp = f"{post.stamp} {EDITED[post.locale]}" if post.edited else post.stamp
    return _messages(post.headline, stamp, post.body)


def root_html(root: RootView) -> list[str]:
    """The thread's first message as it should read now: current title and status."""
    post = root.post
    tail = f"<b>{STATUS_WORD[post.locale]}:</b> {escape(root.status, quote=False)}"
    return _messages(f"{post.label}: {root.title}", post.stamp, post.body, tail)
