"""Atom, RSS, JSON Feed and the maintenance calendar, built with feedgen and icalendar."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]
from icalendar import Calendar, Event

from bot.status.pages import PageContext, Pages
from bot.status.texts import TEXTS
from commands.public_view import PublicComponent, PublicIncident
from storage.models import IncidentStatus

FEED_ENTRIES = 50
CALENDAR_EVENTS = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Characters XML 1.0 cannot hold at all; lxml refuses them, so they are dropped first.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Text without the characters XML 1.0 forbids."""
    return _NOT_XML.sub("", text)


@dataclass(frozen=True)
class FeedSource:
    """Which feed is being built: the page context, and the component it is narrowed to."""

    page: PageContext
    component: PublicComponent | None

    @property
    def host(self) -> str:
        """The public host name, the authority of every tag: id."""
        return urlsplit(self.page.public_url).hostname or "localhost"

    def url(self, path: str) -> str:
        """An absolute public URL with this feed's language and component."""
        query = f"?lang={self.page.lang}"
        if self.component is not None:
            query += f"&component={self.component.key}"
        return f"{self.page.public_url}{path}{query}"

    def title(self, key: str) -> str:
        """A localized feed title, naming the component when narrowed to one."""
        title = TEXTS[self.page.lang][key].format(site=self.page.site)
        return f"{title} · {self.component.name}" if self.component else title


def entry_id(source: FeedSource, incident: PublicIncident) -> str:
    """A stable tag: URI (RFC 4151) for an incident, the same in every feed and language."""
    return f"tag:{source.host},{incident.opened_at:%Y-%m-%d}:{incident.ref}"


def incident_url(source: FeedSource, incident: PublicIncident) -> str:
    """The public page of an incident, in the feed's language."""
    return f"{source.page.public_url}/incidents/{incident.ref}?lang={source.page.lang}"


def timeline_text(incident: PublicIncident) -> str:
    """The public timeline as plain text, newest first, laid out like the posts."""
    parts = [entry.post.as_text() for entry in incident.newest_first]
    if incident.window_text:
        parts.insert(0, incident.window_text)
    return "\n\n".join(parts)


def _latest(items: Sequence[PublicIncident]) -> datetime:
    return max((i.updated_at for i in items), default=_EPOCH)


def _generator(source: FeedSource, items: Sequence[PublicIncident], pages: Pages) -> FeedGenerator:
    feed = FeedGenerator()
    feed.id(source.url("/feed.atom"))
    feed.title(xml_safe(source.title("feed_title")))
    feed.subtitle(TEXTS[source.page.lang]["feed_subtitle"])
    feed.link(href=f"{source.page.public_url}/?lang={source.page.lang}", rel="alternate")
    feed.language(source.page.lang)
    feed.author({"name": xml_safe(source.page.site)})
    feed.generator("Herald")
    feed.updated(_latest(items))
    for incident in items:
        entry = feed.add_entry(order="append")
        entry.id(entry_id(source, incident))
        entry.title(xml_safe(incident.display_title))
        entry.link(href=incident_url(source, incident), rel="alternate")
        entry.published(incident.opened_at)
        entry.updated(incident.updated_at)
        entry.content(xml_safe(pages.entry_content(incident, source.page)), type="html")
        if incident.timeline:
            entry.summary(xml_safe(incident.timeline[-1].post.as_text()))
        for component in incident.components:
            entry.category(term=xml_safe(component.key), label=xml_safe(component.name))
    return feed


def atom(source: FeedSource, items: Sequence[PublicIncident], pages: Pages) -> bytes:
    """An Atom 1.0 feed: one entry per incident or maintenance, its timeline as content."""
    feed = _generator(source, items, pages)
    feed.link(href=source.url("/feed.atom"), rel="self", type="application/atom+xml")
    body: bytes = feed.atom_str(pretty=False)
    return body


def rss(source: FeedSource, items: Sequence[PublicIncident], pages: Pages) -> bytes:
    """An RSS 2.0 feed with the same entries as the Atom one."""
    feed = _generator(source, items, pages)
    feed.link(href=source.url("/feed.rss"), rel="self", type="application/rss+xml")
    body: bytes = feed.rss_str(pretty=False)
    return body


def json_feed(source: FeedSource, items: Sequence[PublicIncident], pages: Pages) -> bytes:
    """A JSON Feed 1.1 document with the same entries as the Atom feed."""
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": source.title("feed_title"),
        "home_page_url": f"{source.page.public_url}/?lang={source.page.lang}",
        "feed_url": source.url("/feed.json"),
        "description": TEXTS[source.page.lang]["feed_subtitle"],
        "language": source.page.lang,
        "authors": [{"name": source.page.site}],
        "items": [
            {
                "id": entry_id(source, incident),
                "url": incident_url(source, incident),
                "title": incident.display_title,
                "content_html": pages.entry_content(incident, source.page),
                "content_text": timeline_text(incident),
                "date_published": incident.opened_at.isoformat(),
                "date_modified": incident.updated_at.isoformat(),
                "tags": [c.name for c in incident.components],
            }
            for incident in items
        ],
    }
    return json.dumps(document, ensure_ascii=False).encode()


def calendar(source: FeedSource, windows: Sequence[PublicIncident]) -> bytes:
    """An iCalendar with one VEVENT per maintenance window; cancelled ones marked so."""
    book = Calendar()
    book.add("prodid", "-//Herald//Status page//EN")
    book.add("version", "2.0")
    book.add("calscale", "GREGORIAN")
    book.add("method", "PUBLISH")
    book.add("x-wr-calname", source.title("calendar_title"))
    for maintenance in windows:
        if maintenance.window_start is None or maintenance.window_end is None:
            continue
        event = Event()
        event.add("uid", f"maintenance-{maintenance.id}@{source.host}")
        event.add("dtstamp", maintenance.updated_at)
        event.add("created", maintenance.opened_at)
        event.add("last-modified", maintenance.updated_at)
        event.add("sequence", maintenance.sequence)
        event.add("summary", maintenance.display_title)
        event.add("dtstart", maintenance.window_start)
        event.add("dtend", maintenance.window_end)
        cancelled = maintenance.status == IncidentStatus.CANCELLED
        event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
        event.add("transp", "TRANSPARENT")
        event.add("description", timeline_text(maintenance))
        event.add("url", incident_url(source, maintenance))
        if maintenance.components:
            event.add("categories", [c.name for c in maintenance.components])
        book.add_component(event)
    body: bytes = book.to_ical()
    return body
