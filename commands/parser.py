"""Turn what a person typed into a command, or a one-line usage error."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from commands import verbs as v
from commands.dates import LONGEST_REMINDER, parse_duration, parse_since, parse_when
from commands.errors import UsageError
from commands.grammar import FORMS, GROUPS, VERBS, Form, Option
from commands.text import clean_text, is_blank
from commands.tokens import Token, argv_tokens, option_name, tokenize
from storage.models import OPEN_INCIDENT_STATUSES, IncidentStatus, Platform
from storage.platforms import PLATFORMS, spec

TITLE_LIMIT = 200
TEXT_LIMIT = 4000
LOCALES = ("it", "en")
# Matched with fullmatch and ASCII digits: "posta\n" or "١٢٣" are not keys or ids.
_REF = re.compile(r"(?:inc-?|#)?([0-9]{1,9})", re.IGNORECASE)
_SEV = re.compile(r"(?:sev)?([1-4])", re.IGNORECASE)
_UPDATE_NUMBER = re.compile(r"#?([0-9]{1,6})")
_KEY = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


@dataclass(frozen=True)
class Clock:
    """What dates are read against: the configured zone and the current moment."""

    zone: ZoneInfo
    now: datetime


@dataclass
class Arguments:
    """The words and options of one command, before they become typed values."""

    form: Form
    words: list[Token]
    options: dict[str, str | bool]

    def text(self, start: int = 0) -> str:
        """The words from `start` on, joined with the line breaks the person typed."""
        return join_words(self.words[start:])


def join_words(words: Sequence[Token]) -> str:
    """Words as one text: a lone quoted word loses its quotes, quotes among others stay."""
    if len(words) == 1:
        return words[0].text
    parts: list[str] = []
    for index, token in enumerate(words):
        if index:
            parts.append(_gap(token))
        parts.append(token.as_typed)
    return "".join(parts)


def _gap(token: Token) -> str:
    newlines = token.gap.count("\n")
    return "\n\n" if newlines >= 2 else "\n" if newlines else " "


_CLOCK_WORD = re.compile(r"[0-9]{1,2}[:.][0-9]{2}", re.ASCII)
_DATE_WORD = re.compile(
    r"[0-9]{1,2}[/.][0-9]{1,2}[/.][0-9]{2,4}|[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII
)


def _ends_options(token: Token) -> bool:
    """A bare `--`: every word after it is text."""
    return not token.quoted and token.text == "--"


def _ends_value(token: Token) -> bool:
    """An option or a bare `--`, neither of which can be (part of) an option's value."""
    return option_name(token) is not None or _ends_options(token)


def _value_words(option: Option, tokens: Sequence[Token], index: int) -> int:
    """How many words after an option make its value (at least one)."""
    if option.kind == "words":
        end = index + 1
        while end < len(tokens) and not _ends_value(tokens[end]):
            end += 1
        return end - index
    if (
        option.kind == "when"
        and not tokens[index].quoted
        and _DATE_WORD.fullmatch(tokens[index].text)
    ):
        # Phones rarely quote: `--start 22/05/2021 10:00` and `… ore 10:00` mean one moment.
        following = [t.text.lower() for t in tokens[index + 1 : index + 3]]
        if following[:1] and _CLOCK_WORD.fullmatch(following[0]):
            return 2
        if following[:1] == ["ore"] and len(following) == 2 and _CLOCK_WORD.fullmatch(following[1]):
            return 3
    return 1


def parse_ref(word: str) -> int:
    """An incident id typed as INC-42, #42 or 42."""
    if match := _REF.fullmatch(word.strip()):
        return int(match[1])
    raise UsageError(f"{word!r} is not an incident id; type it as INC-42, #42 or 42 (see `list`).")


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _split(form: Form, tokens: Sequence[Token]) -> Arguments:
    words: list[Token] = []
    options: dict[str, str | bool] = {}
    index = 0
    only_words = False
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not only_words and _ends_options(token):
            only_words = True
            continue
        name = None if only_words else option_name(token)
        if name is None:
            words.append(token)
            continue
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        name = name.lower()
        option = form.option(name)
        if option is None:
            raise _unknown_option(form, name)
        if name in options:
            raise UsageError(f"--{name} is given twice; give it once. Usage: {form.usage}")
        if not option.takes_value:
            if value is not None:
                raise UsageError(f"--{name} takes no value. Usage: {form.usage}")
            options[name] = True
            continue
        if value is None and index < len(tokens) and not _ends_value(tokens[index]):
            count = _value_words(option, tokens, index)
            value = join_words(tokens[index : index + count])
            index += count
        elif value is None or value == "--":
            raise UsageError(f"--{name} needs a value ({option.placeholder}). Usage: {form.usage}")
        options[name] = value
    for option in form.options:
        if option.required and option.name not in options:
            raise UsageError(
                f"{form.name} needs --{option.name} {option.placeholder}. Usage: {form.usage}"
            )
    return Arguments(form, words, options)


def _unknown_option(form: Form, name: str) -> UsageError:
    names = [o.name for o in form.options]
    if not names:
        return UsageError(f"{form.name} takes no options. Usage: {form.usage}")
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f" Did you mean --{close[0]}?" if close else ""
    known = ", ".join(f"--{n}" for n in names)
    return UsageError(f"Unknown option --{name} for {form.name}.{hint} Options: {known}.")


def _sev(value: str, name: str) -> int:
    if match := _SEV.fullmatch(value.strip()):
        return int(match[1])
    raise UsageError(f"--{name} takes 1 to 4 (1 critical … 4 minor), not {value!r}.")


def _list(value: str) -> tuple[str, ...]:
    keys = tuple(k.strip().lower() for k in re.split(r"[,\s]+", value) if k.strip())
    if not keys:
        raise UsageError("--components needs component keys, like --components posta,web.")
    return keys


def _status(value: str, form: Form) -> IncidentStatus:
    allowed = [s.value for s in OPEN_INCIDENT_STATUSES]
    word = value.strip().lower()
    if word == IncidentStatus.RESOLVED:
        raise UsageError("To resolve an incident, type: resolve ID [TEXT…].")
    if word not in allowed:
        hint = _did_you_mean(word, allowed)
        raise UsageError(
            f"{value!r} is not a status for {form.name}.{hint} Use one of: {', '.join(allowed)}."
        )
    return IncidentStatus(word)


def _not_blank(text: str, what: str) -> str:
    """A text that was typed although it may be left out: refused when it shows nothing."""
    if is_blank(text):
        raise UsageError(
            f"{what} is empty once quotes and invisible characters are removed; "
            "type it, or leave it out."
        )
    return text


class _Reader:
    """Typed access to the options of one command."""

    def __init__(self, args: Arguments, clock: Clock) -> None:
        self.args = args
        self.clock = clock

    def raw(self, name: str) -> str | None:
        value = self.args.options.get(name)
        return value if isinstance(value, str) else None

    def flag(self, name: str) -> bool:
        return self.args.options.get(name) is True

    def sev(self, name: str = "sev") -> int | None:
        value = self.raw(name)
        return None if value is None else _sev(value, name)

    def components(self) -> tuple[str, ...] | None:
        value = self.raw("components")
        return None if value is None else _list(value)

    def when(self, name: str) -> datetime | None:
        value = self.raw(name)
        return (
            None if value is None else parse_when(value, zone=self.clock.zone, now=self.clock.now)
        )

    def at(self) -> datetime | None:
        moment = self.when("at")
        if moment is not None and moment > self.clock.now:
            raise UsageError("--at is for backfilling and cannot be in the future; leave it out.")
        return moment

    def text_option(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            return ""
        return _not_blank(clean_text(value, what=f"--{name} text", limit=TEXT_LIMIT), f"--{name}")

    def ref(self, what: str = "ID") -> int:
        if not self.args.words:
            raise UsageError(f"{self.args.form.name} needs {what}. Usage: {self.args.form.usage}")
        return parse_ref(self.args.words[0].text)

    def body(self, start: int, *, required: bool, what: str = "text") -> str:
        text = clean_text(self.args.text(start), what=what.removeprefix("the "), limit=TEXT_LIMIT)
        if required and is_blank(text):
            raise UsageError(f"{self.args.form.name} needs {what}. Usage: {self.args.form.usage}")
        if not self.args.words[start:]:
            return text
        return _not_blank(text, f"The {what} of {self.args.form.name}")

    def title(self) -> str:
        title = clean_text(self.args.text(), what="title", limit=TITLE_LIMIT, single_line=True)
        if is_blank(title):
            raise UsageError(f"{self.args.form.name} needs a title. Usage: {self.args.form.usage}")
        return title

    def no_words(self) -> None:
        if self.args.words:
            extra = " ".join(t.text for t in self.args.words)[:40]
            raise UsageError(
                f"{self.args.form.name} takes nothing more than its options, not {extra!r}. "
                f"Usage: {self.args.form.usage}"
            )


def _open(r: _Reader) -> v.Command:
    status = r.raw("status")
    return v.OpenIncident(
        title=r.title(),
        severity=r.sev(),
        components=r.components(),
        status=None if status is None else _status(status, r.args.form),
        message=r.text_option("message"),
        at=r.at(),
    )


def _update(r: _Reader) -> v.Command:
    status = r.raw("status")
    incident_id = r.ref()
    return v.PostUpdate(
        incident_id=incident_id,
        text=r.body(1, required=True, what="the text customers will read"),
        status=None if status is None else _status(status, r.args.form),
        severity=r.sev(),
        components=r.components(),
        at=r.at(),
    )


def _resolve(r: _Reader) -> v.Command:
    return v.ResolveIncident(r.ref(), r.body(1, required=False), r.at())


def _reopen(r: _Reader) -> v.Command:
    return v.ReopenIncident(r.ref(), r.body(1, required=False), r.at())


def _note(r: _Reader) -> v.Command:
    return v.AddNote(r.ref(), r.body(1, required=True, what="the note"), r.at())


def _edit(r: _Reader) -> v.Command:
    number = r.raw("update")
    match = None if number is None else _UPDATE_NUMBER.fullmatch(number.strip())
    if number is not None and match is None:
        raise UsageError(f"--update takes the update's number from `show`, not {number!r}.")
    return v.EditUpdate(
        incident_id=r.ref(),
        text=r.body(1, required=True, what="the corrected text"),
        number=None if match is None else int(match[1]),
    )


def _show(r: _Reader) -> v.Command:
    incident_id = r.ref()
    if len(r.args.words) > 1:
        raise UsageError(f"show takes one id. Usage: {r.args.form.usage}")
    return v.ShowIncident(incident_id)


def _list_incidents(r: _Reader) -> v.Command:
    r.no_words()
    since = r.raw("since")
    if since is not None:
        since = " ".join(since.split())
    return v.ListIncidents(
        include_closed=r.flag("all") or since is not None,
        since=None if since is None else parse_since(since, zone=r.clock.zone, now=r.clock.now),
    )


def _summary(r: _Reader) -> v.Command:
    from commands.dates import parse_period

    words = [t.text for t in r.args.words]
    if len(words) > 1:
        raise UsageError(f"summary takes one period. Usage: {r.args.form.usage}")
    period = words[0] if words else "week"
    parse_period(period, zone=r.clock.zone, now=r.clock.now)
    return v.Summarize(period.lower(), share=r.flag("share"))


def _schedule(r: _Reader) -> v.Command:
    start, end = r.when("start"), r.when("end")
    assert start is not None
    assert end is not None
    if end <= start:
        raise UsageError("The maintenance must end after it starts: check --start and --end.")
    return v.ScheduleMaintenance(
        title=r.title(),
        start=start,
        end=end,
        components=r.components(),
        message=r.text_option("message"),
        manual=r.flag("manual"),
        at=r.at(),
        remind=_remind(r.raw("remind")),
    )


def _remind(value: str | None) -> timedelta | None:
    if value is None:
        return None
    remind = parse_duration(value)
    if remind > LONGEST_REMINDER:
        raise UsageError("--remind is at most 90d before the window; use 24h, 2h, 30m or 0.")
    return remind


def _step(action: str) -> Callable[[_Reader], v.Command]:
    def build(r: _Reader) -> v.Command:
        return v.StepMaintenance(action, r.ref(), r.body(1, required=False), r.at())

    return build


def _extend(r: _Reader) -> v.Command:
    start, end = r.when("start"), r.when("end")
    assert end is not None
    if start is not None and end <= start:
        raise UsageError("The maintenance must end after it starts: check --start and --end.")
    return v.ExtendMaintenance(r.ref(), end, r.body(1, required=False), start=start)


def _component_key(r: _Reader) -> str:
    if not r.args.words:
        raise UsageError(f"{r.args.form.name} needs KEY. Usage: {r.args.form.usage}")
    key = r.args.words[0].text.lower()
    if not _KEY.fullmatch(key):
        raise UsageError(
            f"{key!r} is not a component key: use lowercase letters, digits, - or _, like posta."
        )
    return key


def _component_name(r: _Reader) -> str:
    name = clean_text(r.args.text(1), what="component name", limit=80, single_line=True)
    if is_blank(name):
        raise UsageError(f"{r.args.form.name} needs a NAME. Usage: {r.args.form.usage}")
    return name


def _components_add(r: _Reader) -> v.Command:
    return v.AddComponent(_component_key(r), _component_name(r))


def _components_rename(r: _Reader) -> v.Command:
    return v.RenameComponent(_component_key(r), _component_name(r))


def _components_remove(r: _Reader) -> v.Command:
    key = _component_key(r)
    if len(r.args.words) > 1:
        raise UsageError(f"components remove takes one KEY. Usage: {r.args.form.usage}")
    return v.RemoveComponent(key)


def _channel_address(platform: Platform, address: str) -> str:
    rule = spec(platform).address
    refusal = rule.refusal(address)
    if refusal is not None:
        raise UsageError(refusal)
    return rule.written(address)


def _channels_add(r: _Reader) -> v.Command:
    words = [t.text for t in r.args.words]
    platforms = [p.value for p in Platform]
    if len(words) != 2:
        raise UsageError(
            f"channels add needs a platform and an address. Usage: {r.args.form.usage}"
        )
    if words[0].lower() not in platforms:
        hint = _did_you_mean(words[0], platforms)
        raise UsageError(
            f"{words[0]!r} is not a platform.{hint} Use one of: {', '.join(platforms)}."
        )
    platform = Platform(words[0].lower())
    lang = r.raw("lang")
    if lang is not None and lang.lower() not in LOCALES:
        raise UsageError(f"--lang takes {' or '.join(LOCALES)}, not {lang!r}.")
    secret = r.raw("secret")
    if secret is not None and not spec(platform).signed:
        signed = " or ".join(p.value for p, s in PLATFORMS.items() if s.signed)
        raise UsageError(f"--secret is only for {signed} channels; leave it out.")
    return v.AddChannel(
        platform=platform,
        address=_channel_address(platform, words[1]),
        locale=None if lang is None else lang.lower(),
        components=r.components(),
        min_severity=r.sev("min-sev"),
        secret=None
        if secret is None
        else _not_blank(clean_text(secret, what="secret", limit=200, single_line=True), "--secret"),
    )


def _channel_change(action: str) -> Callable[[_Reader], v.Command]:
    def build(r: _Reader) -> v.Command:
        if not r.args.words:
            raise UsageError(
                f"channels {action} needs a channel id or address (see `channels list`)."
            )
        if action != "disable" and len(r.args.words) > 1:
            raise UsageError(f"channels {action} takes one channel. Usage: {r.args.form.usage}")
        reason = clean_text(r.args.text(1), what="reason", limit=300, single_line=True)
        return v.ChangeChannel(action, r.args.words[0].text, reason)

    return build


def _help(r: _Reader) -> v.Command:
    words = [t.text.lower() for t in r.args.words]
    return v.Help(" ".join(words[:2]) or None)


def _simple(command: v.Command) -> Callable[[_Reader], v.Command]:
    def build(r: _Reader) -> v.Command:
        r.no_words()
        return command

    return build


BUILDERS: dict[str, Callable[[_Reader], v.Command]] = {
    "open": _open,
    "update": _update,
    "resolve": _resolve,
    "reopen": _reopen,
    "note": _note,
    "edit": _edit,
    "show": _show,
    "list": _list_incidents,
    "summary": _summary,
    "maintenance schedule": _schedule,
    "maintenance start": _step("start"),
    "maintenance complete": _step("complete"),
    "maintenance cancel": _step("cancel"),
    "maintenance extend": _extend,
    "components list": _simple(v.ListComponents()),
    "components add": _components_add,
    "components rename": _components_rename,
    "components remove": _components_remove,
    "channels list": _simple(v.ListChannels()),
    "channels add": _channels_add,
    "channels remove": _channel_change("remove"),
    "channels disable": _channel_change("disable"),
    "channels enable": _channel_change("enable"),
    "channels test": _channel_change("test"),
    "help": _help,
}


def _form_for(tokens: list[Token]) -> tuple[Form, list[Token]]:
    verb = tokens[0].text.lower().lstrip("/")
    if verb not in VERBS:
        hint = _did_you_mean(verb, VERBS)
        raise UsageError(f"Unknown command {verb!r}.{hint} Commands: {', '.join(VERBS)}.")
    if verb not in GROUPS:
        return FORMS[verb], tokens[1:]
    subs = GROUPS[verb]
    if len(tokens) < 2 or option_name(tokens[1]) is not None:
        if "list" in subs:
            return FORMS[f"{verb} list"], tokens[1:]
        raise UsageError(f"{verb} needs one of: {', '.join(subs)}. Example: `help {verb}`.")
    sub = tokens[1].text.lower()
    if sub not in subs:
        hint = _did_you_mean(sub, subs)
        raise UsageError(f"Unknown {verb} command {sub!r}.{hint} Use one of: {', '.join(subs)}.")
    return FORMS[f"{verb} {sub}"], tokens[2:]


def parse_tokens(tokens: Sequence[Token], *, clock: Clock) -> v.Command:
    """Read a command from tokens (the CLI's argv, or a tokenized chat message)."""
    tokens = [t for t in tokens if t.text or t.quoted]
    if any("\x00" in t.text for t in tokens):
        raise UsageError("The command contains a NUL character; type it again without it.")
    if not tokens:
        raise UsageError("Type a command, like: open Mail delivery delayed --sev 2. Or: help.")
    form, rest = _form_for(tokens)
    args = _split(form, rest)
    return BUILDERS[form.name](_Reader(args, clock))


def parse(text: str, *, clock: Clock) -> v.Command:
    """Read a command from the text of a chat message."""
    return parse_tokens(tokenize(text), clock=clock)


def parse_argv(argv: Sequence[str], *, clock: Clock) -> v.Command:
    """Read a command from command-line arguments, already split by the shell."""
    return parse_tokens(argv_tokens(argv), clock=clock)


__all__ = ["Clock", "Option", "clean_text", "parse", "parse_argv", "parse_ref", "parse_tokens"]


def parse_update_text(incident_id: int, text: str) -> v.PostUpdate:
    """An update whose whole text is what customers read (the answer to a prompt): no options."""
    body = clean_text(text, what="text customers will read", limit=TEXT_LIMIT)
    return v.PostUpdate(incident_id=incident_id, text=_not_blank(body, "The update"))
