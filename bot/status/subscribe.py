"""The status page's e-mail subscriptions: the form, the confirmation, the page to change
or leave, and RFC 8058's one-click unsubscribe. Thin: it reads the form, calls
commands.email_subscriptions, and renders the answer; no link is acted on by a GET, so a
mail scanner that follows links subscribes and unsubscribes nobody."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from bot.database import Database
from bot.delivery.email import EmailSender
from bot.delivery.errors import DeliveryError
from bot.settings import Settings
from bot.status.http import PAGE_SECURITY, choose_language
from bot.status.pages import PageContext, Pages
from commands.context import Actor, Context
from commands.email_subscriptions import (
    BadLink,
    Mail,
    TooMany,
    ask,
    change,
    confirm,
    leave,
    manage_link,
    managed,
)
from commands.errors import HeraldError, UsageError
from commands.subscriber_words import MAIL_WORDS
from commands.subscriptions import Choice, Subscription, services
from commands.wording import pick_locale

log = logging.getLogger(__name__)
T = TypeVar("T")

# The forms post to this site, and nowhere else; the rest is as strict as every page.
FORM_SECURITY = {
    **PAGE_SECURITY,
    "Content-Security-Policy": PAGE_SECURITY["Content-Security-Policy"].replace(
        "form-action 'none'", "form-action 'self'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the links carry a personal token
}
LONGEST_FORM = 16_384
MOST_FIELDS = 64
ONE_HOUR = "3600"


class SubscribePages:
    """The routes of /subscribe, on when e-mail is (SMTP_URL and MAIL_FROM set)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        pages: Pages,
        mailer: EmailSender,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.database = database
        self.pages = pages
        self.mailer = mailer
        self.clock = clock
        self.public_url = settings.public_url.rstrip("/")

    def routes(self) -> list[BaseRoute]:
        """The four addresses, each a page (GET) and its form's answer (POST)."""
        return [
            Route("/subscribe", self.subscribe, methods=["GET", "HEAD", "POST"]),
            Route("/subscribe/confirm", self.confirm, methods=["GET", "HEAD", "POST"]),
            Route("/subscribe/manage", self.manage, methods=["GET", "HEAD", "POST"]),
            Route("/subscribe/unsubscribe", self.unsubscribe, methods=["GET", "HEAD", "POST"]),
        ]

    # ---- the shared path

    def _context(self) -> Context:
        return Context(
            sessions=self.database.sessions,
            zone=self.settings.zone,
            locale=self.settings.locale,
            actor=Actor("subscriber", "web", is_responder=False),
            now=self.clock,
        )

    async def _run(self, work: Callable[[Context], T]) -> T:
        context = self._context()
        return await run_in_threadpool(work, context)

    def _render(
        self, request: Request, lang: str, status: int = 200, **values: Any
    ) -> HTMLResponse:
        page = PageContext(
            site=self.settings.site_name,
            public_url=self.public_url,
            lang=lang,
            default_lang=self.settings.locale,
            zone=self.settings.zone,
            path=request.url.path,
        )
        values.setdefault("errors", {})
        values.setdefault("notice", "")
        values.setdefault("intro", "")
        values.setdefault("form", "")
        values.setdefault("manage_link", "")
        html = self.pages.subscription(page, w=MAIL_WORDS[lang], **values)
        return HTMLResponse(html, status_code=status, headers=FORM_SECURITY)

    @staticmethod
    async def _form(request: Request) -> dict[str, list[str]] | None:
        """The posted form; None for one no browser sends (too long, too many fields)."""
        body = await request.body()
        if len(body) > LONGEST_FORM:
            return None
        try:
            return parse_qs(body.decode("utf-8", "replace"), max_num_fields=MOST_FIELDS)
        except ValueError:
            return None

    def _malformed(self, request: Request, lang: str) -> HTMLResponse:
        words = MAIL_WORDS[lang]
        return self._render(request, lang, 400, heading=words.title, notice=words.bad_link)

    def _token(self, request: Request, form: dict[str, list[str]] | None) -> str:
        return ((form or {}).get("t") or [request.query_params.get("t", "")])[0]

    def _button(
        self, request: Request, lang: str, heading: str, form: str, token: str, intro: str = ""
    ) -> HTMLResponse:
        """A link's page: one button that posts its token back to the same address."""
        return self._render(
            request,
            lang,
            heading=heading,
            intro=intro,
            form=form,
            action=request.url.path,
            token=token,
        )

    def _bad_link(self, request: Request, lang: str, error: BadLink) -> HTMLResponse:
        words = MAIL_WORDS[lang]
        text = words.expired if error.expired else words.bad_link
        return self._render(request, lang, 400, heading=words.title, notice=text)

    # ---- the form

    async def subscribe(self, request: Request) -> Response:
        """GET: the form. POST: a confirmation mail, the same answer whoever the address is."""
        lang = choose_language(request, self.settings.locale)
        words = MAIL_WORDS[lang]
        choices = await self._run(services)
        shown: dict[str, Any] = {
            "heading": words.title,
            "intro": words.intro,
            "form": "subscribe",
            "action": "/subscribe",
            "choices": choices,
            "address": "",
            "language": lang,
            "token": "",
        }
        if request.method != "POST":
            return self._render(request, lang, **shown)
        form = await self._form(request)
        if form is None:
            return self._malformed(request, lang)
        typed = (form.get("address") or [""])[0]
        keys = [k.strip().lower() for k in form.get("services", [])]
        language = pick_locale((form.get("language") or [lang])[0])
        client = request.client.host if request.client else "unknown"
        shown.update(address=typed, language=language)
        try:
            mail = await self._run(
                lambda ctx: ask(
                    ctx,
                    typed=typed,
                    keys=keys,
                    locale=language,
                    client=client,
                    public_url=self.public_url,
                )
            )
        except TooMany:
            response = self._render(request, lang, 429, **shown, notice=words.too_many)
            response.headers["Retry-After"] = ONE_HOUR
            return response
        except UsageError as error:
            field = "address" if error.message == MAIL_WORDS[language].bad_address else "services"
            message = words.bad_address if field == "address" else words.bad_service
            return self._render(request, lang, 400, **shown, errors={field: message})
        except HeraldError as error:
            return self._render(request, lang, 400, **shown, notice=error.message)
        if mail is not None and not await self._send(mail):
            return self._render(request, lang, 503, **shown, notice=words.unavailable)
        shown.update(form="", intro="")
        return self._render(request, lang, notice=words.sent, **shown)

    async def _send(self, mail: Mail) -> bool:
        try:
            await self.mailer.send_notice(mail.to, mail.subject, mail.text)
        except DeliveryError as error:
            # Said to the person as "try again"; the address stays out of the log.
            log.warning("subscription mail not sent: %s", error.reason)
            return False
        return True

    # ---- the links in the mails

    async def confirm(self, request: Request) -> Response:
        """GET: a button to confirm. POST: the subscription starts."""
        lang = choose_language(request, self.settings.locale)
        words = MAIL_WORDS[lang]
        form = await self._form(request) if request.method == "POST" else {}
        if form is None:
            return self._malformed(request, lang)
        token = self._token(request, form)
        if request.method != "POST":
            return self._button(request, lang, words.title, "confirm", token, words.confirm_page)
        try:
            channel_id, now = await self._run(lambda ctx: confirm(ctx, token))
        except BadLink as error:
            return self._bad_link(request, lang, error)
        except HeraldError as error:
            return self._render(request, lang, 400, heading=words.title, notice=error.message)
        link = await self._run(lambda ctx: manage_link(ctx, self.public_url, channel_id))
        done = MAIL_WORDS[now.locale]
        return self._render(
            request, now.locale, heading=done.manage_title, notice=done.confirmed, manage_link=link
        )

    def _manage_page(
        self, request: Request, lang: str, address: str, now: Subscription, token: str, said: str
    ) -> HTMLResponse:
        words = MAIL_WORDS[lang]
        return self._render(
            request,
            lang,
            heading=words.manage_title,
            notice=said,
            form="manage",
            action="/subscribe/manage",
            leave_action=f"/subscribe/unsubscribe?lang={lang}",
            token=token,
            address=address,
            # Following every service reads as none ticked, as the form's hint says.
            choices=[Choice(c.key, c.name, c.followed and not now.everything) for c in now.choices],
            language=now.locale,
        )

    async def manage(self, request: Request) -> Response:
        """GET: the services and language followed. POST: the new choice."""
        lang = choose_language(request, self.settings.locale)
        words = MAIL_WORDS[lang]
        form = await self._form(request) if request.method == "POST" else {}
        if form is None:
            return self._malformed(request, lang)
        token = self._token(request, form)
        keys = [k.strip().lower() for k in form.get("services", [])]
        language = pick_locale((form.get("language") or [lang])[0])
        try:
            if request.method != "POST":
                found = await self._run(lambda ctx: managed(ctx, token))
            else:
                found = await self._run(lambda ctx: change(ctx, token, keys, language))
        except BadLink as error:
            return self._bad_link(request, lang, error)
        except HeraldError as error:
            return self._render(
                request, lang, 400, heading=words.manage_title, notice=error.message
            )
        if found is None:
            return self._render(
                request, lang, heading=words.manage_title, notice=words.not_subscribed
            )
        address, now = found
        if request.method != "POST":
            return self._manage_page(request, lang, address, now, token, "")
        shown = MAIL_WORDS[now.locale]
        return self._manage_page(request, now.locale, address, now, token, shown.saved)

    async def unsubscribe(self, request: Request) -> Response:
        """GET: a button to leave. POST (a mail client's one click, or the button): gone."""
        lang = choose_language(request, self.settings.locale)
        words = MAIL_WORDS[lang]
        form = await self._form(request) if request.method == "POST" else {}
        if form is None:
            return self._malformed(request, lang)
        token = self._token(request, form)
        if request.method != "POST":
            return self._button(request, lang, words.manage_title, "leave", token)
        try:
            await self._run(lambda ctx: leave(ctx, token))
        except BadLink as error:
            return self._bad_link(request, lang, error)
        return self._render(request, lang, heading=words.manage_title, notice=words.left)
