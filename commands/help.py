"""The help verb: every form, or one verb in full."""

from __future__ import annotations

import difflib

from commands import verbs as v
from commands.context import Context, Reply
from commands.errors import UsageError
from commands.grammar import FORMS, VERBS, Form, forms_of

EXAMPLES = {
    "open": 'open "Problemi consegna posta" --sev 2 --components posta',
    "update": "update INC-1 --status identified Il nodo è stato escluso dal cluster",
    "resolve": "resolve INC-1 Tutti i sistemi sono tornati pienamente operativi",
    "maintenance": 'maintenance schedule Aggiornamento server di posta --start "22/05/2021 10:00" '
    '--end "22/05/2021 12:00" --components posta',
    "channels": "channels add telegram -1001234567890 --lang it --components posta --min-sev 2",
    "list": "list --since 7d",
}


def overview() -> str:
    """Every form on one line each."""
    lines = ["Herald commands (ids as INC-42, #42 or 42; dates as 22/05/2021 10:00):"]
    lines.extend(f"  {form.usage}" for form in FORMS.values())
    lines.append("Type `help VERB` for one command in full.")
    return "\n".join(lines)


def _detail(form: Form) -> str:
    text = f"{form.usage}\n    {form.summary}"
    if form.options:
        text += "\n    options: " + ", ".join(
            f"--{o.name}{' ' + o.placeholder if o.placeholder else ''}" for o in form.options
        )
    return text


def show_help(command: v.Help, ctx: Context) -> Reply:
    """The command overview, or one verb's forms with an example."""
    if command.verb is None:
        return Reply(overview())
    forms = [FORMS[command.verb]] if command.verb in FORMS else forms_of(command.verb.split()[0])
    if not forms:
        close = difflib.get_close_matches(command.verb, VERBS, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UsageError(f"No command {command.verb!r}.{hint} Commands: {', '.join(VERBS)}.")
    text = "\n".join(_detail(form) for form in forms)
    example = EXAMPLES.get(command.verb.split()[0])
    if example:
        text += f"\nExample: {example}"
    return Reply(text)
