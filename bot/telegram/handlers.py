"""The Telegram listeners: each reads the update, calls the front-end core, and answers in HTML."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from telegram import (
    Bot,
    CallbackQuery,
    ForceReply,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot.frontend.answers import Answer, Refusal, answer, look, refusal_of
from bot.frontend.runner import CommandRunner, Person
from bot.telegram import buttons
from bot.telegram.access import ChatPlaces, Place, TelegramResponders, person_of
from bot.telegram.replies import (
    pack,
    refusal_html,
    reply_html,
    stale_text,
    status_html,
    summary_html,
    unfinished_text,
)
from commands import verbs as v
from commands.context import Context
from commands.current_status import current_status
from commands.dispatch import audit_refusal
from commands.errors import UsageError
from commands.help import overview
from commands.lookup import ref
from commands.parser import Clock, parse, parse_update_text
from commands.queries import SummaryView
from commands.show import IncidentBrief, brief_incident
from storage.models import IncidentKind
from storage.requests import claim_request, request_claimed

log = logging.getLogger(__name__)

NOT_HERE = (
    "Herald takes commands only in its ops chats and in private chats; "
    "an administrator can add this chat ({chat}) to TELEGRAM_OPS_CHATS."
)
PRIVATE_ONLY_RESPONDERS = (
    "In a private chat Herald takes /incident and /summary only from responders; "
    "use them in the ops group, or {grant}. /status and /help work for everyone."
)
CHANNELS_RESPONDERS = "Only responders can list the channels: their addresses are private; {grant}."
PRIVATE_SHOW = "In a private chat Herald shows incidents to responders only."
PROMPT = re.compile(r"^Update for INC-([0-9]{1,15})\b")
# An Update prompt takes one answer, from the person who pressed Update, for this long.
PROMPT_AGE = timedelta(minutes=15)
PROMPT_EXPIRED = "This prompt has expired; press Update again to post an update."
PROMPT_ANSWERED = "This prompt was already answered; press Update again for another update."
OLD_BUTTON = "This button is from an older Herald; type the command instead."
# A group takes 20 messages a minute; an answer waits out Telegram's 429s for up to this
# long in all (well under the 5 minutes after which a claim counts as a dead process's).
LONGEST_WAIT = 90.0
ATTEMPTS = 4
PROMPT_ASKED = "telegram-prompt-asked"
PROMPT_ANSWERED_SOURCE = "telegram-prompt"


def command_text(message: Message) -> str:
    """What follows `/incident` (or `/incident@bot`): the command as the person typed it."""
    text = message.text or ""
    entity = next(iter(message.entities), None)
    if entity is None or entity.type != "bot_command" or entity.offset != 0:
        return ""
    return text[entity.length :].strip()


def claim_prompt(ctx: Context, key: str, source: str) -> bool:
    """Record an Update prompt's asker, or its one answer; False when already recorded."""
    with ctx.sessions() as session, session.begin():
        return claim_request(session=session, source=source, key=key, now=ctx.now())


def prompt_recorded(ctx: Context, key: str) -> bool:
    """Whether an Update prompt asked this person (`chat:message:user`)."""
    with ctx.sessions() as session:
        return request_claimed(session=session, source=PROMPT_ASKED, key=key)


def _mention(user: User) -> str:
    return f'<a href="tg://user?id={user.id}">{escape(user.first_name or str(user.id))}</a>'


class TelegramHandlers:
    """The listeners of the Telegram front-end, sharing one runner and one way to answer."""

    def __init__(
        self,
        *,
        bot: Bot,
        runner: CommandRunner,
        responders: TelegramResponders,
        places: ChatPlaces,
        zone: ZoneInfo,
        clock: Callable[[], datetime],
        public_url: str,
        incident_chat: bool,
        max_age: timedelta,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bot = bot
        self.runner = runner
        self.responders = responders
        self.places = places
        self.zone = zone
        self.clock = clock
        self.public_url = public_url
        self.incident_chat = incident_chat
        self.max_age = max_age
        self.monotonic = monotonic

    # ---- commands

    async def on_incident(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/incident COMMAND`: the command language, as in Slack and the CLI."""
        message = await self.admitted(update)
        if message is None or message.from_user is None:
            return
        text = command_text(message)
        if not text:
            await self.say(message, help_pieces(message.from_user))
            return
        await self._run_text(message, message.from_user, text)

    async def on_summary(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/summary [period]`: the managers' numbers."""
        message = await self.admitted(update)
        if message is None or message.from_user is None:
            return
        await self._run_text(message, message.from_user, f"summary {command_text(message)}")

    async def on_status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/status`: what customers see on the status page now."""
        message = await self.admitted(update)
        if message is None or message.from_user is None:
            return
        locale = message.from_user.language_code
        person = person_of(message.from_user)
        status = await look(
            self.runner,
            person,
            lambda ctx: current_status(ctx, locale=(locale or "")[:2] or None),
            started=self.monotonic(),
        )
        if isinstance(status, Refusal):
            await self.say(message, refusal_html(status))
            return
        await self.say(message, status_html(status, public_url=self.public_url, zone=self.zone))

    async def on_help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/help` and `/start`: the commands, and the person's Telegram id."""
        message = await self.admitted(update)
        if message is None or message.from_user is None:
            return
        await self.say(message, help_pieces(message.from_user))

    # ---- the answer to an Update prompt

    async def on_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A reply to Herald's "Update for INC-7" prompt: its text becomes the update."""
        message = update.message
        if message is None or message.from_user is None or message.reply_to_message is None:
            return
        prompt = message.reply_to_message
        if prompt.from_user is None or prompt.from_user.id != context.bot.id:
            return
        found = PROMPT.match(prompt.text or "")
        if found is None:
            return
        if await self.admitted(update) is None:
            return
        person = self.person_in(message.from_user, message)
        asked = f"{prompt.chat_id}:{prompt.message_id}:{message.from_user.id}"
        was_asked = await look(
            self.runner,
            person,
            lambda ctx: prompt_recorded(ctx, asked),
            started=self.monotonic(),
            changing=True,
        )
        if isinstance(was_asked, Refusal):
            await self.say(message, refusal_html(was_asked))
            return
        if not was_asked:
            # Replying is how people talk in a group: only the one asked posts by replying.
            return
        if message.date - prompt.date > PROMPT_AGE:
            await self.say(message, [escape(PROMPT_EXPIRED)])
            return
        try:
            command = parse_update_text(int(found[1]), message.text or "")
        except UsageError as error:
            refusal = refusal_of(error, changing=True, front_end="Telegram")
            await self.say(message, refusal_html(refusal))
            return
        key = f"{prompt.chat_id}:{prompt.message_id}"
        first = await look(
            self.runner,
            person,
            lambda ctx: claim_prompt(ctx, key, PROMPT_ANSWERED_SOURCE),
            started=self.monotonic(),
            changing=True,
        )
        if isinstance(first, Refusal):
            await self.say(message, refusal_html(first))
            return
        if not first:
            await self.say(message, [escape(PROMPT_ANSWERED)])
            return
        await self._run(message, person, command)

    # ---- buttons

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Update / Resolve / Show under an incident, and the confirmation of Resolve."""
        query = update.callback_query
        if query is None:
            return
        press = buttons.read_press(query.data)
        message = query.message if isinstance(query.message, Message) else None
        if press is None or message is None:
            await answer_query(query, OLD_BUTTON)
            return
        place = self.places.place_of(message.chat)
        if place in (Place.OTHER, Place.CHANNEL):
            await answer_query(query, "Herald takes commands only in its ops chats.")
            return
        person = self.person_in(query.from_user, message)
        if (
            press.action == buttons.SHOW
            and place == Place.PRIVATE
            and not await self.responders.includes(person.user_id)
        ):
            await answer_query(query, PRIVATE_SHOW)
            return
        if press.action == buttons.SHOW:
            result = await answer(
                self.runner, person, v.ShowIncident(press.incident_id), started=self.monotonic()
            )
            await answer_query(query, result.text if isinstance(result, Refusal) else "")
            if not isinstance(result, Refusal):
                await self._tell(message, result, v.ShowIncident(press.incident_id))
            return
        if not await self.responders.includes(person.user_id):
            # Cancel too: it takes away a responder's pending confirmation.
            attempted: v.Command = (
                v.PostUpdate(press.incident_id, "")
                if press.action == buttons.UPDATE
                else v.ResolveIncident(press.incident_id)
            )
            await self._refuse_change(person, attempted)
            await answer_query(
                query,
                "Only responders can change incidents; "
                + self.responders.grant_hint(person.user_id),
            )
            return
        if press.action == buttons.CANCEL:
            await answer_query(query, "Not resolved.")
            await self.edit(message, "Not resolved.")
            return
        brief = await self._brief(query, person, press.incident_id)
        if brief is None:
            return
        if press.action == buttons.UPDATE:
            await self._prompt_update(query, message, brief)
        elif press.action == buttons.RESOLVE:
            await self._ask_to_confirm(query, message, brief)
        else:
            await self._confirmed(query, message, person, press)

    async def _brief(
        self, query: CallbackQuery, person: Person, incident_id: int
    ) -> IncidentBrief | None:
        # Asked for by Update or Resolve: a refusal says that nothing was changed.
        brief = await look(
            self.runner,
            person,
            lambda ctx: brief_incident(ctx, incident_id),
            started=self.monotonic(),
            changing=True,
        )
        if isinstance(brief, Refusal):
            await answer_query(query, brief.text)
            return None
        if brief.status.is_closed:
            status = brief.status.value.replace("_", " ")
            await answer_query(query, f"{ref(incident_id)} is already {status}.")
            return None
        return brief

    async def _prompt_update(
        self, query: CallbackQuery, message: Message, brief: IncidentBrief
    ) -> None:
        title = escape(brief.title, quote=False)
        text = (
            f"Update for {ref(brief.incident_id)} «{title}» — {_mention(query.from_user)}, "
            "reply to this message with the text customers will read."
        )
        markup = ForceReply(selective=True, input_field_placeholder="What customers will read")
        await answer_query(query, "")
        prompt = await self._send(
            message.chat_id, [text], reply_to=message.message_id, markup=markup
        )
        if prompt is not None:
            # Who was asked is kept, not read back from the mention: Telegram drops the
            # mention of someone whose privacy settings forbid links to their account.
            key = f"{prompt.chat_id}:{prompt.message_id}:{query.from_user.id}"
            recorded = await look(
                self.runner,
                person_of(query.from_user),
                lambda ctx: claim_prompt(ctx, key, PROMPT_ASKED),
                started=self.monotonic(),
            )
            if isinstance(recorded, Refusal):
                log.warning(
                    "Update prompt %s not recorded (%s); it takes no answer", key, recorded.kind
                )

    async def _ask_to_confirm(
        self, query: CallbackQuery, message: Message, brief: IncidentBrief
    ) -> None:
        if brief.kind == IncidentKind.MAINTENANCE:
            await answer_query(
                query,
                f"{ref(brief.incident_id)} is a maintenance; "
                f"type /incident maintenance complete {ref(brief.incident_id)}.",
            )
            return
        asked_at = int(self.clock().timestamp())
        markup = buttons.confirm_keyboard(brief.incident_id, query.from_user.id, asked_at)
        text = (
            f"Resolve {ref(brief.incident_id)} «{escape(brief.title, quote=False)}»? "
            f"Customers will read that it is resolved. Tap to confirm within "
            f"{buttons.CONFIRM_SECONDS // 60} minutes."
        )
        await answer_query(query, "Tap again to confirm.")
        await self._send(message.chat_id, [text], reply_to=message.message_id, markup=markup)

    async def _confirmed(
        self, query: CallbackQuery, message: Message, person: Person, press: buttons.Press
    ) -> None:
        if press.asker != query.from_user.id:
            await answer_query(query, "Only who tapped Resolve can confirm; tap Resolve yourself.")
            return
        age = self.clock().timestamp() - (press.asked_at or 0)
        if not 0 <= age <= buttons.CONFIRM_SECONDS:
            await answer_query(query, "This confirmation expired; tap Resolve again.")
            return
        command = v.ResolveIncident(press.incident_id)
        result = await answer(self.runner, person, command, started=self.monotonic())
        if isinstance(result, Refusal):
            await answer_query(query, result.text)
            return
        await answer_query(query, f"{ref(press.incident_id)} resolved.")
        if not isinstance(result, SummaryView):
            pieces = reply_html(
                result, public_url=self.public_url, incident_chat=self.incident_chat
            )
            await self.edit(message, pieces[0])

    # ---- the shared path

    def person_in(self, user: User, message: Message) -> Person:
        """Who is acting, and in which chat: an incident opened there is nudged there."""
        return person_of(user, self.places.origin_of(message.chat))

    async def admitted(self, update: Update) -> Message | None:
        """The message, if Herald should act on it here and now; else answered or ignored."""
        message = update.message
        if message is None or message.from_user is None:
            return None  # channel posts, edits: never answered
        place = self.places.place_of(message.chat)
        if place == Place.CHANNEL:
            return None
        if place == Place.OTHER:
            await self.say(message, [escape(NOT_HERE.format(chat=message.chat_id))])
            return None
        if message.date is not None and self.clock() - message.date > self.max_age:
            log.info(
                "command sent at %s in %s not run: too old",
                message.date,
                _chat_shown(message.chat_id),
            )
            await self.say(message, [escape(stale_text(message.date, self.zone, self.clock()))])
            return None
        return message

    async def _run_text(self, message: Message, user: User, text: str) -> None:
        person = self.person_in(user, message)
        try:
            command = parse(text, clock=Clock(self.zone, self.clock()))
        except UsageError as error:
            refusal = refusal_of(error, changing=False, front_end="Telegram")
            await self.say(message, refusal_html(refusal))
            return
        await self._run(message, person, command)

    async def _run(self, message: Message, person: Person, command: v.Command) -> None:
        private = self.places.place_of(message.chat) == Place.PRIVATE
        if (
            private
            and not isinstance(command, v.Help)
            and not await self.responders.includes(person.user_id)
        ):
            await self._refuse_change(person, command)
            grant = self.responders.grant_hint(person.user_id)
            await self.say(message, [escape(PRIVATE_ONLY_RESPONDERS.format(grant=grant))])
            return
        if isinstance(command, v.ListChannels) and not await self.responders.includes(
            person.user_id
        ):
            # Channel addresses are customers' chats and webhook credentials, not for a room.
            await self._refuse_change(person, command)
            grant = self.responders.grant_hint(person.user_id)
            await self.say(message, [escape(CHANNELS_RESPONDERS.format(grant=grant))])
            return
        result = await answer(self.runner, person, command, started=self.monotonic())
        await self._tell(message, result, command)

    async def _refuse_change(self, person: Person, command: v.Command) -> None:
        # audit_refusal logs a database failure itself; anything else is logged by look().
        await look(
            self.runner, person, lambda ctx: audit_refusal(command, ctx), started=self.monotonic()
        )

    async def _tell(self, message: Message, result: Answer, command: v.Command) -> None:
        if isinstance(result, Refusal):
            await self.say(message, refusal_html(result))
            return
        if isinstance(result, SummaryView):
            await self.say(message, summary_html(result, self.zone))
            return
        markup = None
        if (
            isinstance(command, v.OpenIncident | v.PostUpdate)
            and result.changed
            and result.incident_id is not None
        ):
            markup = buttons.incident_keyboard(result.incident_id)
        pieces = reply_html(result, public_url=self.public_url, incident_chat=self.incident_chat)
        await self.say(message, pieces, markup)

    async def say(
        self, message: Message, pieces: list[str], markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """Answer a message in its chat, as a reply to it; a failure is logged."""
        await self._send(message.chat_id, pieces, reply_to=message.message_id, markup=markup)

    async def _send(
        self,
        chat_id: int,
        pieces: list[str],
        *,
        reply_to: int | None,
        markup: InlineKeyboardMarkup | ForceReply | None = None,
    ) -> Message | None:
        """Send an answer, the keyboard under its last part; return its last message.
        A failure is logged, never raised."""
        reply = ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None
        sent: list[Message] = []
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1

            async def send(piece: str = piece, last: bool = last) -> None:
                message = await self.bot.send_message(
                    chat_id,
                    piece,
                    parse_mode=ParseMode.HTML,
                    reply_parameters=reply,
                    reply_markup=markup if last else None,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
                sent.append(message)

            if not await _patiently(send, f"answer in {_chat_shown(chat_id)}"):
                return None
        return sent[-1] if sent else None

    async def edit(
        self, message: Message, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        """Rewrite one of Herald's messages (its buttons too); a failure is logged."""

        async def rewrite() -> None:
            await self.bot.edit_message_text(
                text,
                chat_id=message.chat_id,
                message_id=message.message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                reply_markup=markup,
            )

        await _patiently(rewrite, f"edit in {_chat_shown(message.chat_id)}")

    async def tell_unfinished(
        self, chat_id: int | None, message_id: int | None, received_at: datetime
    ) -> None:
        """Tell the author of a command a process died running that it may not have run."""
        if chat_id is not None:
            text = escape(unfinished_text(received_at, self.zone, self.clock()), quote=False)
            await self._send(chat_id, [text], reply_to=message_id)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Anything a listener let through: logged with an id, answered with an apology."""
        error = context.error if context.error is not None else RuntimeError("unknown")
        refusal = refusal_of(error, changing=False, front_end="Telegram")
        message = update.message if isinstance(update, Update) else None
        if message is not None and self.places.place_of(message.chat) in (Place.OPS, Place.PRIVATE):
            await self.say(message, refusal_html(refusal))


async def _patiently(call: Callable[[], Awaitable[None]], what: str) -> bool:
    """Make a call to Telegram, waiting out its 429s up to LONGEST_WAIT; log any failure."""
    waited = 0.0
    for attempt in range(1, ATTEMPTS + 1):
        try:
            await call()
            return True
        except RetryAfter as error:
            wait = error.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            if attempt == ATTEMPTS or waited + seconds > LONGEST_WAIT:
                log.warning("%s dropped: Telegram asks to wait %.0f s more", what, seconds)
                return False
            waited += seconds
            await asyncio.sleep(seconds)
        except TelegramError as error:
            log.warning("%s failed: %s", what, str(error)[:200])
            return False
    return False


def _chat_shown(chat_id: int) -> str:
    """A chat as logs show it: a group by its id, a person's private chat not at all (its
    id is the person's, and may be a subscriber's address)."""
    return f"chat {chat_id}" if chat_id < 0 else "a private chat"


async def answer_query(query: CallbackQuery, text: str) -> None:
    """Answer a button press (Telegram's toast); a failure is logged."""
    try:
        await query.answer(text[:200] or None)
    except TelegramError as error:
        log.info("button press not answered: %s", str(error)[:200])


def your_id(user: User) -> str:
    """The person's Telegram id, which an administrator adds to make them a responder."""
    return f"Your Telegram id: <code>{user.id}</code>"


def help_pieces(user: User, also: Sequence[str] = ()) -> list[str]:
    """The responders' commands, `also` (escaped HTML), and the person's Telegram id."""
    commands = (
        "/incident COMMAND — open, update, resolve, show, list… (the same language as Slack "
        "and the CLI)\n/summary [today|week|month] — the numbers of a period\n"
        "/status — what customers see now\n/help — this text"
    )
    return pack(
        [
            f"<pre>{escape(overview(), quote=False)}</pre>",
            escape(commands, quote=False),
            *also,
            your_id(user),
        ]
    )
