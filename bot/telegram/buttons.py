"""The buttons under Herald's Telegram messages, and the callback data that names each one."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from commands.lookup import ref

# A prefix with a version: data of buttons sent by an older Herald is told apart, not misread.
PREFIX = "h1"
UPDATE, RESOLVE, SHOW, CONFIRM, CANCEL = "u", "r", "s", "y", "n"
# A confirmation is for the moment it was asked; a tap minutes later is a different decision.
CONFIRM_SECONDS = 120
# Incident ids are 64-bit integers in the database: longer digits name no incident.
INCIDENT_DIGITS = 15


@dataclass(frozen=True)
class Press:
    """A button press as Herald reads its data: what, on which incident, asked by whom, when."""

    action: str
    incident_id: int
    asker: int | None = None
    asked_at: int | None = None


def press_data(press: Press) -> str:
    """The callback data of a button (at most 64 bytes, as Telegram allows)."""
    parts = [PREFIX, press.action, str(press.incident_id)]
    if press.asker is not None and press.asked_at is not None:
        parts += [str(press.asker), str(press.asked_at)]
    return ":".join(parts)


def read_press(data: str | None) -> Press | None:
    """The press a button's data names, or None for data Herald did not write."""
    parts = (data or "").split(":")
    if len(parts) not in (3, 5) or parts[0] != PREFIX:
        return None
    if parts[1] not in (UPDATE, RESOLVE, SHOW, CONFIRM, CANCEL):
        return None
    if not all(p.isascii() and p.isdigit() and len(p) <= 20 for p in parts[2:]):
        return None
    if len(parts[2]) > INCIDENT_DIGITS:
        return None
    numbers = [int(p) for p in parts[2:]]
    if len(numbers) == 3:
        return Press(parts[1], numbers[0], numbers[1], numbers[2])
    return Press(parts[1], numbers[0])


def incident_keyboard(incident_id: int, *, is_open: bool = True) -> InlineKeyboardMarkup:
    """Update / Resolve / Show under an incident; only Show once it is closed."""
    row = []
    if is_open:
        row += [
            InlineKeyboardButton("Update", callback_data=press_data(Press(UPDATE, incident_id))),
            InlineKeyboardButton("Resolve", callback_data=press_data(Press(RESOLVE, incident_id))),
        ]
    row.append(InlineKeyboardButton("Show", callback_data=press_data(Press(SHOW, incident_id))))
    return InlineKeyboardMarkup([row])


def update_keyboard(incident_id: int) -> InlineKeyboardMarkup:
    """The one Update button under a nudge: it starts the same prompt as the root's."""
    data = press_data(Press(UPDATE, incident_id))
    return InlineKeyboardMarkup([[InlineKeyboardButton("Update", callback_data=data)]])


def confirm_keyboard(incident_id: int, asker: int, asked_at: int) -> InlineKeyboardMarkup:
    """The second tap that resolving asks for, bound to who asked and when."""
    confirm = press_data(Press(CONFIRM, incident_id, asker, asked_at))
    cancel = press_data(Press(CANCEL, incident_id))
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(f"Yes, resolve {ref(incident_id)}", callback_data=confirm),
                InlineKeyboardButton("Cancel", callback_data=cancel),
            ]
        ]
    )
