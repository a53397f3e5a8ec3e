"""Who is behind a Telegram update, as audits show them, and the data a button may carry."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from telegram import User

from bot.telegram.access import person_of
from bot.telegram.buttons import Press, press_data, read_press
from bot.telegram.replies import stale_text, unfinished_text


def test_a_display_name_loses_control_and_reordering_characters() -> None:
    user = User(id=42, first_name="Eve\x00\u202egnp.exe", is_bot=False, last_name="\n\tX")
    person = person_of(user)
    assert person.actor_name == "telegram:42 (Evegnp.exe X)"
    assert person_of(User(id=7, first_name="Anna", is_bot=False, username="anna_ops")).name == (
        "anna_ops"
    )
    # Joiners stay: emoji sequences and Persian names need them.
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert person_of(User(id=8, first_name=f"Ana {family}", is_bot=False)).name.endswith(family)


def test_button_data_herald_did_not_write_is_not_read() -> None:
    assert read_press(press_data(Press("r", 7))) == Press("r", 7)
    assert read_press(press_data(Press("y", 7, 1001, 1_700_000_000))) == Press(
        "y", 7, 1001, 1_700_000_000
    )
    for data in ("h1:s:99999999999999999999", "h1:s:-1", "h2:s:1", "h1:z:1", "h1:s:1:2", "", None):
        assert read_press(data) is None, data


def test_an_outage_notice_names_the_day_only_when_it_is_not_today() -> None:
    rome = ZoneInfo("Europe/Rome")
    now = datetime(2025, 1, 28, 23, 10, tzinfo=UTC)  # 00:10 on the 29th in Rome
    same_day = datetime(2025, 1, 28, 23, 5, tzinfo=UTC)
    day_before = datetime(2025, 1, 28, 22, 55, tzinfo=UTC)
    assert "sent at 00:05," in stale_text(same_day, rome, now)
    assert "sent at 28/01 23:55," in stale_text(day_before, rome, now)
    assert "received at 28/01 23:55)" in unfinished_text(day_before, rome, now)
