"""HTML for the status page and incident pages: Jinja2 templates with autoescaping on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from bot.status.texts import SYMBOLS, TEXTS
from commands import phrases
from commands.public_view import PublicIncident
from commands.status_page import StatusPage
from commands.subscriber_words import MAIL_WORDS
from commands.wording import LOCALES, stamp

TEMPLATES = (
    "base.html",
    "_parts.html",
    "home.html",
    "incident.html",
    "not_found.html",
    "unavailable.html",
    "stale_note.html",
    "entry_content.html",
    "subscribe.html",
)
# Where the note of a page served from its last rendering goes: the start of <main>.
NOTE_AFTER = b'<main id="content" class="wrap">\n'


def _lines(text: str) -> Markup:
    """Text with its line breaks kept: each line escaped, joined by <br>."""
    return Markup("<br>\n").join(escape(line) for line in text.splitlines())


def _iso(moment: datetime) -> str:
    return moment.isoformat()


@pass_context
def _stamp(context: Context, moment: datetime) -> str:
    return stamp(moment, locale=context["lang"], zone=context["zone_info"])


@pass_context
def _percent(context: Context, value: float) -> str:
    # Never round 99.996 up to a reassuring but false 100.00.
    floored = int(value * 100) / 100
    return str(format_decimal(floored, "#,##0.00", locale=context["lang"]))


def make_environment() -> Environment:
    """The template environment: HTML escaped by default, unknown names an error."""
    environment = Environment(
        loader=PackageLoader("bot", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(lines=_lines, iso=_iso, stamp=_stamp, percent=_percent)
    for name in TEMPLATES:
        environment.get_template(name)  # compile at start, not on the first reader's time
    return environment


@dataclass(frozen=True)
class PageContext:
    """What every page needs besides its own facts."""

    site: str
    public_url: str
    lang: str
    default_lang: str
    zone: ZoneInfo
    path: str

    def variables(self) -> dict[str, Any]:
        """The template variables shared by every page."""
        return {
            "site": self.site,
            "public_url": self.public_url,
            "lang": self.lang,
            "locales": LOCALES,
            "t": TEXTS[self.lang],
            "symbols": SYMBOLS,
            "zone": self.zone.key,
            "zone_info": self.zone,
            "path": self.path,
            # Links keep a language the reader chose that differs from the site's own.
            "query": "" if self.lang == self.default_lang else f"?lang={self.lang}",
            "edited": phrases.EDITED[self.lang],
        }


class Pages:
    """Renders the public HTML pages."""

    def __init__(self, *, by_mail: bool = False) -> None:
        self.environment = make_environment()
        self.by_mail = by_mail  # e-mail is on: the page offers to subscribe

    def home(self, page: StatusPage, context: PageContext) -> str:
        """The status page."""
        banner = (
            "maintenance"
            if page.overall.indicator == "none" and page.overall.maintenance
            else page.overall.indicator
        )
        return self.environment.get_template("home.html").render(
            **context.variables(),
            page=page,
            banner=banner,
            by_mail=MAIL_WORDS[context.lang].title if self.by_mail else "",
            bars={bar.component.id: bar for bar in page.uptime},
        )

    def incident(self, incident: PublicIncident, context: PageContext) -> str:
        """One incident's page with its whole public timeline."""
        return self.environment.get_template("incident.html").render(
            **context.variables(), incident=incident
        )

    def not_found(self, context: PageContext) -> str:
        """The page for an address with nothing behind it."""
        return self.environment.get_template("not_found.html").render(**context.variables())

    def unavailable(self, context: PageContext) -> str:
        """The page for a page never rendered, asked for while the database is down."""
        return self.environment.get_template("unavailable.html").render(**context.variables())

    def with_stale_note(
        self, body: bytes, *, as_of: datetime, now: datetime, context: PageContext
    ) -> bytes:
        """A rendered page with a visible note: live data is unavailable, this is the status
        as of a moment (its time alone when that is today in the site's zone)."""
        as_of = as_of.replace(microsecond=0)
        local, today = as_of.astimezone(context.zone), now.astimezone(context.zone)
        texts = TEXTS[context.lang]
        if local.date() == today.date():
            sentence, shown = texts["stale_today"], local.strftime("%H:%M")
        else:
            sentence, shown = (
                texts["stale_day"],
                stamp(as_of, locale=context.lang, zone=context.zone),
            )
        before, _, after = sentence.partition("{time}")
        note = self.environment.get_template("stale_note.html").render(
            text_before=before, text_after=after, as_of=as_of, shown=shown
        )
        at = body.find(NOTE_AFTER)
        if at < 0:
            return body
        cut = at + len(NOTE_AFTER)
        return body[:cut] + note.encode() + b"\n" + body[cut:]

    def subscription(self, context: PageContext, **values: Any) -> str:
        """A page of the e-mail subscription: its form, or what came of it."""
        return self.environment.get_template("subscribe.html").render(
            **context.variables(), **values
        )

    def entry_content(self, incident: PublicIncident, context: PageContext) -> str:
        """An HTML fragment of an incident's timeline, for feed entries."""
        return self.environment.get_template("entry_content.html").render(
            **context.variables(), incident=incident
        )
