"""The Statuspage-compatible API: the shapes and values that aggregators and widgets expect."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from starlette.testclient import TestClient

from tests.factories import FakeClock, make_context, run
from tests.status.helpers import CHANNEL, NOTE, PUBLIC_URL, seed_status, status_client

PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_KEYS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
}
INCIDENT_KEYS = {
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
}
UPDATE_KEYS = {
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
COMPONENT_STATUSES = {
    "operational",
    "degraded_performance",
    "partial_outage",
    "major_outage",
    "under_maintenance",
}


def get(client: TestClient, path: str) -> Any:
    """A JSON document from the API, checking the media type and the page object."""
    response = client.get(f"/api/v2/{path}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    document = response.json()
    assert set(document["page"]) == PAGE_KEYS
    assert document["page"]["url"] == PUBLIC_URL
    assert document["page"]["name"] == "Stato servizi"
    assert document["page"]["time_zone"] == "Europe/Rome"
    return document


def check_incident(incident: dict[str, Any], statuses: set[str]) -> None:
    """An incident or maintenance object has Statuspage's fields and values."""
    expected = INCIDENT_KEYS | (
        {"scheduled_for", "scheduled_until"} if statuses == MAINTENANCE_STATUSES else set()
    )
    assert set(incident) == expected
    assert incident["status"] in statuses
    assert incident["impact"] in {"none", "minor", "major", "critical", "maintenance"}
    assert incident["shortlink"] == f"{PUBLIC_URL}/incidents/INC-{incident['id']}"
    for update in incident["incident_updates"]:
        assert set(update) == UPDATE_KEYS
        assert update["status"] in statuses
        assert update["incident_id"] == incident["id"]
    for component in incident["components"]:
        assert set(component) == COMPONENT_KEYS
        assert component["status"] in COMPONENT_STATUSES


def test_summary_has_page_components_incidents_maintenance_and_status(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    summary = get(status_client(engine, clock), "summary.json")
    assert set(summary) == {"page", "components", "incidents", "scheduled_maintenances", "status"}
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    components = {c["id"]: c for c in summary["components"]}
    assert {k: c["status"] for k, c in components.items()} == {
        "posta": "partial_outage",
        "web": "operational",
        "dns": "under_maintenance",
    }
    assert [c["position"] for c in summary["components"]] == [1, 2, 3]
    for component in summary["components"]:
        assert set(component) == COMPONENT_KEYS
    (incident,) = summary["incidents"]
    check_incident(incident, INCIDENT_STATUSES)
    assert incident["id"] == "2"
    assert incident["name"] == "Problemi consegna posta"
    assert incident["status"] == "identified"
    assert incident["impact"] == "major"
    assert incident["created_at"] == "2025-01-28T13:55:00Z"
    assert incident["resolved_at"] is None
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]
    assert incident["incident_updates"][0]["body"] == "Individuata la causa sul cluster"
    assert [c["id"] for c in incident["components"]] == ["posta"]
    maintenance = summary["scheduled_maintenances"]
    assert [m["status"] for m in maintenance] == ["in_progress", "scheduled"]
    for item in maintenance:
        check_incident(item, MAINTENANCE_STATUSES)
        assert item["impact"] == "maintenance"
    assert maintenance[1]["scheduled_for"] == "2025-01-30T09:00:00Z"
    assert maintenance[1]["scheduled_until"] == "2025-01-30T11:00:00Z"


def test_status_and_components_follow_the_worst_open_impact(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = make_context(sessions, clock)
    run(ctx, "components add posta Posta")
    client = status_client(engine, clock)
    assert get(client, "status.json")["status"] == {
        "indicator": "none",
        "description": "All Systems Operational",
    }
    run(ctx, "open Lentezza --sev 3 --components posta")
    assert get(client, "status.json")["status"]["indicator"] == "minor"
    assert get(client, "components.json")["components"][0]["status"] == "degraded_performance"
    run(ctx, "open Posta ferma --sev 1 --components posta")
    assert get(client, "status.json")["status"] == {
        "indicator": "critical",
        "description": "Major System Outage",
    }
    assert get(client, "components.json")["components"][0]["status"] == "major_outage"
    clock.advance(minutes=30)
    run(ctx, "resolve INC-2")
    run(ctx, "resolve INC-1")
    assert get(client, "components.json")["components"][0]["status"] == "operational"
    run(
        ctx,
        "maintenance schedule Lavori --start '28/01/2025 15:00' --end '28/01/2025 20:00' "
        "--components posta --manual --at '28/01/2025 14:00'",
    )
    run(ctx, "maintenance start INC-3")
    assert get(client, "status.json")["status"] == {
        "indicator": "none",
        "description": "Service Under Maintenance",
    }
    assert get(client, "components.json")["components"][0]["status"] == "under_maintenance"


def test_incident_lists_resolved_and_unresolved(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = seed_status(sessions, clock)
    run(ctx, 'update INC-2 --status monitoring "Sotto controllo"')
    client = status_client(engine, clock, locale="en")
    incidents = get(client, "incidents.json")["incidents"]
    assert [i["id"] for i in incidents] == ["2", "1"]
    for incident in incidents:
        check_incident(incident, INCIDENT_STATUSES)
    resolved = incidents[1]
    assert resolved["status"] == "resolved"
    assert resolved["resolved_at"] == "2025-01-27T09:30:00Z"
    assert resolved["impact"] == "minor"
    assert incidents[0]["monitoring_at"] is not None
    assert [i["id"] for i in get(client, "incidents/unresolved.json")["incidents"]] == ["2"]
    # An opening typed with no text gets the default wording, in the site's language.
    run(ctx, "open Silenzio --sev 4")
    english = get(client, "incidents/unresolved.json")["incidents"][0]
    italian = get(client, "incidents/unresolved.json?lang=it")["incidents"][0]
    assert english["name"] == italian["name"] == "Silenzio"
    assert english["impact"] == "none"
    assert english["incident_updates"][0]["body"].startswith("We are investigating an issue.")
    assert italian["incident_updates"][0]["body"].startswith("Stiamo verificando un problema.")


def test_maintenance_lists_upcoming_active_and_cancelled(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    ctx = seed_status(sessions, clock)
    run(
        ctx,
        "maintenance schedule Rinviata --start '02/02/2025 10:00' --end '02/02/2025 11:00' "
        "--components posta",
    )
    run(ctx, "maintenance cancel INC-5 Rinviata a febbraio")
    client = status_client(engine, clock)
    everything = get(client, "scheduled-maintenances.json")["scheduled_maintenances"]
    assert [m["id"] for m in everything] == ["5", "3", "4"]
    for item in everything:
        check_incident(item, MAINTENANCE_STATUSES)
    # Statuspage has no "cancelled": the window ends completed, its last update says why.
    assert everything[0]["status"] == "completed"
    assert everything[0]["incident_updates"][0]["body"] == "Rinviata a febbraio"
    upcoming = get(client, "scheduled-maintenances/upcoming.json")["scheduled_maintenances"]
    assert [(m["id"], m["status"]) for m in upcoming] == [("3", "scheduled")]
    active = get(client, "scheduled-maintenances/active.json")["scheduled_maintenances"]
    assert [(m["id"], m["status"]) for m in active] == [("4", "in_progress")]
    assert active[0]["started_at"] == "2025-01-28T13:00:00Z"


def test_api_keeps_private_data_out(
    engine: sa.Engine, sessions: sessionmaker[Session], clock: FakeClock
) -> None:
    seed_status(sessions, clock)
    client = status_client(engine, clock)
    for path in (
        "summary.json",
        "incidents.json",
        "incidents/unresolved.json",
        "scheduled-maintenances.json",
    ):
        body = client.get(f"/api/v2/{path}").text
        assert NOTE not in body
        assert "NOTA-RISERVATA" not in body
        assert CHANNEL not in body
        assert "alice" not in body.lower()
        assert '"cli"' not in body


def test_update_ids_do_not_reveal_internal_notes(
    sessions: sessionmaker[Session], clock: FakeClock, engine: sa.Engine
) -> None:
    from bot.database import Database
    from bot.settings import Settings
    from bot.web import create_app
    from storage.engine import make_session_factory
    from tests.factories import make_incident

    ctx = make_context(sessions, clock)
    incident_id = make_incident(ctx)
    run(ctx, f"note {incident_id} segreto")
    run(ctx, f"update {incident_id} pubblico")
    app = create_app(Settings(_env_file=None), Database(engine, make_session_factory(engine)))
    incidents = TestClient(app).get("/api/v2/incidents.json").json()["incidents"]
    ids = sorted(u["id"] for u in incidents[0]["incident_updates"])
    assert ids == [f"{incident_id}-1", f"{incident_id}-2"]
