"""Modals: opened by `/incident`, by `open` without a title and by the incident channel's buttons;
submitted, refused field by field, previewed in both languages."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.factories import FakeClock
from tests.fakes.limits import ManualClock
from tests.fakes.slack import FakeSlack
from tests.slack.helpers import (
    ALICE,
    INCIDENTS,
    TOKEN,
    WAR_ROOM,
    SlackWorld,
    start_world,
    wait_until,
)

NAMES = {ALICE: "alice", "U0BOB": "bob", "U0CAROL": "carol"}


def _user(user: str) -> dict[str, str]:
    return {
        "id": user,
        "username": NAMES.get(user, user),
        "name": NAMES.get(user, user),
        "team_id": "T0HERALD",
    }


def filled(view: dict[str, Any], **values: Any) -> dict[str, Any]:
    """view.state.values as Slack sends them: initial values, then those given by block_id."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block["type"] != "input":
            continue
        element, block_id = block["element"], block["block_id"]
        kind = element["type"]
        given = values.get(block_id)
        if kind == "plain_text_input":
            value = given if given is not None else element.get("initial_value")
            state[block_id] = {"value": {"type": kind, "value": value}}
        elif kind == "static_select":
            option = element.get("initial_option")
            if given is not None:
                option = next(o for o in element["options"] if o["value"] == given)
            state[block_id] = {"value": {"type": kind, "selected_option": option}}
        else:
            options = element.get("initial_options") or []
            if given is not None:
                options = [o for o in element["options"] if o["value"] in given]
            state[block_id] = {"value": {"type": kind, "selected_options": options}}
    return state


def submit(
    world: SlackWorld, view: dict[str, Any], user: str = ALICE, view_id: str = "", **values: Any
) -> Any:
    """Submit a modal as Slack would, with these values; return the HTTP response."""
    trigger = world.slack.trigger_id()
    payload = {
        "type": "view_submission",
        "team": {"id": "T0HERALD", "domain": "herald"},
        "user": _user(user),
        "api_app_id": "A0HERALD",
        "token": "deprecated",
        "trigger_id": trigger,
        "view": {
            **view,
            "id": view_id or f"V{trigger.split('.')[0]}",
            "hash": "1.abc",
            "state": {"values": filled(view, **values)},
        },
        "response_urls": [],
    }
    return world.interact(payload)


def click(world: SlackWorld, action_id: str, incident_id: int | str, user: str = ALICE) -> str:
    """Click a button under an incident's root message; return the click's response_url."""
    root = world.slack.messages(INCIDENTS)[0]
    url = world.slack.response_url()
    payload = {
        "type": "block_actions",
        "team": {"id": "T0HERALD", "domain": "herald"},
        "user": _user(user),
        "api_app_id": "A0HERALD",
        "token": "deprecated",
        "container": {"type": "message", "message_ts": root.ts, "channel_id": INCIDENTS},
        "trigger_id": world.slack.trigger_id(),
        "channel": {"id": INCIDENTS, "name": "incidents"},
        "message": {"type": "message", "ts": root.ts, "text": root.text, "blocks": root.blocks},
        "response_url": url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": f"incident-{incident_id}",
                "value": str(incident_id),
                "type": "button",
                "action_ts": "1738072200.000100",
            }
        ],
    }
    assert world.interact(payload).status_code == 200
    return url


def preview_text(view: dict[str, Any]) -> str:
    return json.dumps(
        [b for b in view["blocks"] if str(b.get("block_id", "")).startswith("preview_")],
        ensure_ascii=False,
    )


# --- opening ----------------------------------------------------------------------------------


def test_the_bare_command_opens_the_open_modal_within_the_deadline(world: SlackWorld) -> None:
    world.run("components add posta Posta")
    world.run("components add web Siti web")
    started = time.monotonic()
    response, _ = world.command("")
    view = world.opened_view()
    assert time.monotonic() - started < 3.0
    assert response.text == ""
    assert view["callback_id"] == "herald_open"
    ids = [b.get("block_id") for b in view["blocks"]]
    for wanted in ("title", "severity", "components", "status", "text", "preview_it", "preview_en"):
        assert wanted in ids
    components = next(b for b in view["blocks"] if b.get("block_id") == "components")
    assert [o["value"] for o in components["element"]["options"]] == ["posta", "web"]
    assert "Apertura:" in preview_text(view)
    assert "Opened:" in preview_text(view)
    assert json.loads(view["private_metadata"])["channel"] == WAR_ROOM


def test_open_without_a_title_opens_the_modal_with_what_was_typed(world: SlackWorld) -> None:
    world.run("components add posta Posta")
    world.command("open --sev 2 --components posta --message Verifichiamo")
    view = world.opened_view()
    state = filled(view)
    assert state["severity"]["value"]["selected_option"]["value"] == "2"
    assert [o["value"] for o in state["components"]["value"]["selected_options"]] == ["posta"]
    assert state["text"]["value"]["value"] == "Verifichiamo"
    assert "Verifichiamo" in preview_text(view)


def test_submitting_the_open_modal_opens_the_incident(world: SlackWorld) -> None:
    world.run("components add posta Posta")
    _, url = world.command("")
    view = world.opened_view()
    response = submit(
        world,
        view,
        title="Problemi consegna posta",
        severity="2",
        components=["posta"],
        status="identified",
        text="Mail in ritardo",
    )
    assert response.status_code == 200
    assert response.text == ""  # closes the modal
    assert "Opened INC-1" in world.answer_text(url)  # the command's response_url, kept in the modal
    [incident] = world.incidents()
    assert (incident.title, incident.severity, incident.status) == (
        "Problemi consegna posta",
        2,
        "identified",
    )
    assert incident.opened_by == "slack:U0ALICE (alice)"


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"title": "   "}, "title", "Give the incident a title."),
        ({"title": '""'}, "title", "Give the incident a title."),
        ({"title": "“ ”\u200b"}, "title", "Give the incident a title."),
        ({"title": "x" * 201}, "title", "keep it to 200 or fewer"),
        ({"title": "Posta", "text": "a\x00b"}, "text", "NUL character"),
    ],
)
def test_a_bad_submission_is_refused_next_to_the_field(
    world: SlackWorld, values: dict[str, str], field: str, message: str
) -> None:
    world.command("")
    response = submit(world, world.opened_view(), **values)
    assert response.status_code == 200
    body = response.json()
    assert body["response_action"] == "errors"
    assert message in body["errors"][field]
    assert world.incidents() == []


def test_a_submission_slack_delivers_twice_runs_once(world: SlackWorld) -> None:
    _, url = world.command("")
    view = world.opened_view()
    submit(world, view, view_id="V0SAME", title="Posta lenta")
    submit(world, view, view_id="V0SAME", title="Posta lenta")
    world.answers(url)
    assert wait_until(lambda: len(world.incidents()) == 1)
    assert len(world.incidents()) == 1


def test_refresh_preview_renders_what_was_typed_in_both_languages(world: SlackWorld) -> None:
    world.command("")
    view = world.opened_view()
    # The fake keeps the id it gave the view privately; Slack sends it back with each action.
    stored = list(world.slack._open_views.values())[-1]
    payload = {
        "type": "block_actions",
        "team": {"id": "T0HERALD"},
        "user": _user(ALICE),
        "api_app_id": "A0HERALD",
        "trigger_id": world.slack.trigger_id(),
        "container": {"type": "view", "view_id": stored["id"]},
        "view": {
            **stored,
            "state": {"values": filled(view, title="Rete lenta", text="Stiamo & <!here>")},
        },
        "actions": [
            {"action_id": "herald_preview", "block_id": "preview_actions", "type": "button"}
        ],
    }
    assert world.interact(payload).status_code == 200
    assert wait_until(lambda: len(world.views("views.update")) == 1)
    fresh = world.views("views.update")[0]["view"]
    shown = preview_text(fresh)
    assert "Apertura: rete lenta" in shown
    assert "Opened: Rete lenta" in shown
    assert "Stiamo &amp; &lt;!here&gt;" in shown
    assert filled(fresh)["title"]["value"]["value"] == "Rete lenta"


@pytest.fixture
def slow_world(engine: sa.Engine, clock: FakeClock) -> Iterator[tuple[SlackWorld, ManualClock]]:
    ticking = ManualClock()
    with FakeSlack(
        token=TOKEN, clock=ticking, per_channel_per_second=None, workspace_per_second=None
    ) as fake:
        fake.add_channel(WAR_ROOM)
        with start_world(engine, clock, fake) as world:
            yield world, ticking


def test_an_expired_trigger_is_explained(slow_world: tuple[SlackWorld, ManualClock]) -> None:
    world, ticking = slow_world
    fields = world.command_body("")
    ticking.advance(3.5)  # Slack took its time delivering it: the trigger_id is stale
    from urllib.parse import urlencode

    world.post(urlencode(fields).encode())
    assert "The form could not open in time" in world.answer_text(fields["response_url"])


# --- buttons ----------------------------------------------------------------------------------


@pytest.fixture
def opened(world: SlackWorld) -> SlackWorld:
    world.run("components add posta Posta")
    world.run("components add web Web")
    _, url = world.command(
        'open "Problemi consegna posta" --sev 3 --components posta --message Primo'
    )
    world.answers(url)
    world.deliver()
    return world


def test_the_update_button_opens_a_modal_with_the_incident_as_it_is(opened: SlackWorld) -> None:
    click(opened, "herald_update", 1)
    view = opened.opened_view()
    assert view["callback_id"] == "herald_update"
    assert view["title"]["text"] == "Update INC-1"
    state = filled(view)
    assert state["status"]["value"]["selected_option"]["value"] == "investigating"
    assert state["severity"]["value"]["selected_option"]["value"] == "3"
    assert [o["value"] for o in state["components"]["value"]["selected_options"]] == ["posta"]
    assert "Aggiornamento: problemi consegna posta" in preview_text(view)


def test_submitting_the_update_modal_posts_the_update(opened: SlackWorld) -> None:
    url = click(opened, "herald_update", 1)
    view = opened.opened_view()
    response = submit(
        opened,
        view,
        text="Nodo escluso",
        status="identified",
        severity="2",
        components=["posta", "web"],
    )
    assert response.text == ""
    answer = opened.answer_text(url)
    assert "Posted update #2 on INC-1" in answer
    assert "status investigating → identified" in answer
    assert "SEV3 → SEV2" in answer
    [incident] = opened.incidents()
    assert (incident.status, incident.severity) == ("identified", 2)


def test_an_update_without_text_is_refused_in_the_modal(opened: SlackWorld) -> None:
    click(opened, "herald_update", 1)
    body = submit(opened, opened.opened_view(), text="").json()
    assert body == {
        "response_action": "errors",
        "errors": {"text": "Write what customers will read."},
    }


def test_resolve_note_and_edit_buttons(opened: SlackWorld) -> None:
    url = click(opened, "herald_note", 1)
    view = opened.opened_view()
    assert view["callback_id"] == "herald_note"
    assert "preview_it" not in json.dumps(view)  # notes reach no customer: nothing to preview
    submit(opened, view, text="ticket 4242")
    assert "Noted on INC-1 as #2" in opened.answer_text(url)

    url = click(opened, "herald_edit", 1)
    view = opened.opened_view(count=2)
    assert filled(view)["text"]["value"]["value"] == "Primo"  # the last public update, not the note
    submit(opened, view, text="Primo, corretto")
    assert "Corrected update #1 of INC-1" in opened.answer_text(url)

    url = click(opened, "herald_resolve", 1)
    view = opened.opened_view(count=3)
    assert "Chiusura: problemi consegna posta" in preview_text(view)
    submit(opened, view)
    assert "Resolved INC-1" in opened.answer_text(url)
    assert opened.incidents()[0].status == "resolved"


def test_a_button_for_an_incident_that_is_gone_says_so(opened: SlackWorld) -> None:
    url = click(opened, "herald_update", 7)
    assert "There is no INC-7" in opened.answer_text(url)
    assert opened.views("views.open") == []


@pytest.mark.parametrize("value", ["abc", "99999999999999999999", "-1", ""])
def test_a_button_with_a_value_that_is_no_incident_id_is_refused_politely(
    opened: SlackWorld, value: str
) -> None:
    url = click(opened, "herald_update", value)
    answer = opened.answer_text(url)
    assert "is not an incident id" in answer
    assert "went wrong" not in answer
    assert opened.views("views.open") == []


def test_a_form_herald_cannot_read_is_closed_and_explained(world: SlackWorld) -> None:
    _, url = world.command("")
    view = world.opened_view()
    broken = {**view, "private_metadata": view["private_metadata"]}
    for block in broken["blocks"]:
        if block.get("block_id") == "status":
            block["element"]["options"].append(
                {"text": {"type": "plain_text", "text": "x"}, "value": "exploded"}
            )
    response = submit(world, broken, title="Posta lenta", status="exploded")
    assert response.status_code == 200
    assert response.text == ""
    assert "That form could not be read" in world.answer_text(url)
    assert world.incidents() == []


def test_edit_of_an_update_longer_than_a_form_points_to_the_command(opened: SlackWorld) -> None:
    opened.run(f'update INC-1 "{"parola " * 500}fine"')
    url = click(opened, "herald_edit", 1)
    assert "longer than a Slack form holds" in opened.answer_text(url)
    assert "/incident edit INC-1 --update 2 TEXT" in opened.answer_text(url)
