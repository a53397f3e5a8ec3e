"""The forms of every command: their words, their options and their usage lines."""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.platforms import add_usage

# "words" reads every word up to the next option; "when" also takes a time after a date.
VALUE_KINDS = ("int", "sev", "text", "words", "list", "when", "since", "status", "lang", "flag")


@dataclass(frozen=True)
class Option:
    """A long option such as `--sev 2`; a flag takes no value."""

    name: str
    kind: str
    placeholder: str = ""
    required: bool = False

    @property
    def takes_value(self) -> bool:
        """Flags stand alone; every other option reads the word after it."""
        return self.kind != "flag"


@dataclass(frozen=True)
class Form:
    """One command form: `open`, `maintenance schedule`, `channels add`…"""

    name: str
    usage: str
    summary: str
    options: tuple[Option, ...] = field(default_factory=tuple)

    def option(self, name: str) -> Option | None:
        """The option with this name, if the form has it."""
        return next((o for o in self.options if o.name == name), None)


SEV = Option("sev", "sev", "1-4")
COMPONENTS = Option("components", "list", "a,b")
MESSAGE = Option("message", "words", "TEXT")
AT = Option("at", "when", "WHEN")
LANG = Option("lang", "lang", "it|en")
MIN_SEV = Option("min-sev", "sev", "N")

FORMS: dict[str, Form] = {
    form.name: form
    for form in (
        Form(
            "open",
            "open TITLE… [--sev 1-4] [--components a,b] "
            "[--status investigating|identified|monitoring] [--message TEXT]",
            "open an incident and post its opening to customers",
            (SEV, COMPONENTS, Option("status", "status", "S"), MESSAGE, AT),
        ),
        Form(
            "update",
            "update ID [--status S] [--sev N] [--components a,b] TEXT…",
            "post an update to customers, optionally changing status, severity or components",
            (Option("status", "status", "S"), SEV, COMPONENTS, AT),
        ),
        Form("resolve", "resolve ID [TEXT…]", "resolve an incident and post its closing", (AT,)),
        Form("reopen", "reopen ID [TEXT…]", "reopen a resolved incident", (AT,)),
        Form("note", "note ID TEXT…", "add an internal note; it never leaves Herald", (AT,)),
        Form(
            "edit",
            "edit ID [--update N] TEXT…",
            "correct the text of a posted update (default: the last public one)",
            (Option("update", "int", "N"),),
        ),
        Form("show", "show ID", "show an incident with its whole timeline"),
        Form(
            "list",
            "list [--all] [--since 7d|2025-01-28]",
            "list open incidents and maintenance; --all adds closed ones",
            (Option("all", "flag"), Option("since", "when", "WHEN")),
        ),
        Form(
            "summary",
            "summary [today|week|month|YYYY-MM] [--share]",
            "count incidents and maintenance in a period (default: week); "
            "--share shows it to the whole chat",
            (Option("share", "flag"),),
        ),
        Form(
            "maintenance schedule",
            "maintenance schedule TITLE… --start WHEN --end WHEN [--components a,b] "
            "[--message TEXT] [--remind 24h|2h|30m|0] [--manual]",
            "announce a maintenance window; customers are reminded before it (--remind, 0 for "
            "no reminder), and it starts and completes on time unless --manual",
            (
                Option("start", "when", "WHEN", required=True),
                Option("end", "when", "WHEN", required=True),
                COMPONENTS,
                MESSAGE,
                Option("remind", "text", "DURATION"),
                Option("manual", "flag"),
                AT,
            ),
        ),
        Form("maintenance start", "maintenance start ID [TEXT…]", "start a maintenance", (AT,)),
        Form(
            "maintenance complete",
            "maintenance complete ID [TEXT…]",
            "complete a maintenance",
            (AT,),
        ),
        Form("maintenance cancel", "maintenance cancel ID [TEXT…]", "cancel a maintenance", (AT,)),
        Form(
            "maintenance extend",
            "maintenance extend ID --end WHEN [--start WHEN] [TEXT…]",
            "move the end of a maintenance window, or the whole window (--start) before it begins",
            (Option("end", "when", "WHEN", required=True), Option("start", "when", "WHEN")),
        ),
        Form("components list", "components list", "list the components customers see"),
        Form("components add", "components add KEY NAME…", "add a component"),
        Form("components rename", "components rename KEY NAME…", "rename a component"),
        Form("components remove", "components remove KEY", "retire a component"),
        Form("channels list", "channels list", "list the channels that follow incidents"),
        Form(
            "channels add",
            f"channels add {add_usage()} [--lang it|en] [--components a,b] [--min-sev N]",
            "add a customer channel",
            (LANG, COMPONENTS, MIN_SEV, Option("secret", "text", "S")),
        ),
        Form("channels remove", "channels remove CHANNEL", "remove a channel"),
        Form("channels disable", "channels disable CHANNEL [REASON…]", "stop sending to a channel"),
        Form("channels enable", "channels enable CHANNEL", "send to a channel again"),
        Form(
            "channels test",
            "channels test CHANNEL",
            "send a test message to a channel and report what the platform said",
        ),
        Form("help", "help [VERB]", "show the commands, or one command in full"),
    )
}

GROUPS = {
    "maintenance": ("schedule", "start", "complete", "cancel", "extend"),
    "components": ("list", "add", "rename", "remove"),
    "channels": ("list", "add", "remove", "disable", "enable", "test"),
}
VERBS = (
    "open",
    "update",
    "resolve",
    "reopen",
    "note",
    "edit",
    "show",
    "list",
    "summary",
    "maintenance",
    "components",
    "channels",
    "help",
)


def forms_of(verb: str) -> list[Form]:
    """The forms a verb has: one, or one per sub-verb for groups."""
    if verb in GROUPS:
        return [FORMS[f"{verb} {sub}"] for sub in GROUPS[verb]]
    return [FORMS[verb]] if verb in FORMS else []
