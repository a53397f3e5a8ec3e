"""The sample replayed through the CLI reproduces its incidents, updates and maintenance in
Italian, with the sample's stamps and wording."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.demo import DEMO_SCRIPT
from commands.wording import PublicPost, display_title, render_update
from storage import incidents as incident_store
from storage import updates as update_store
from storage.engine import make_engine, make_session_factory
from storage.models import Incident
from tests.bot.test_cli import clean_env

pytestmark = pytest.mark.slow

ROME = ZoneInfo("Europe/Rome")

# The sample's words, verbatim (samples/status-posts-it.txt).
DNS_OPENING = (
    "A seguito di un guasto nei sistemi di risoluzione interna del nostro datacenter di Milano, "
    "i nostri sistemi di posta e alcuni sistemi web non sono raggiungibili"
)
DNS_CLOSING = (
    "Il guasto è stato identificato e risolto. I sistemi hanno ripreso a funzionare "
    "correttamente.\n"
    "La posta in ingresso che non è stata recapitata durante il periodo di fermo è rimasta "
    "accodata sui nostri sistemi di backup esterni ed è stata regolarmente consegnata al "
    "ripristino dei sistemi"
)
OFFICE365_OPENING = "\n".join(
    [
        "Da questa mattina ci risulta difficoltoso consegnare le mail ai domini che si appoggiano "
        "a Office365.",
        "Da quanto possiamo vedere sui logs dei server di posta, vengono rifiutate le mail con più "
        "di un destinatario",
        "2AF28A3A3F 51075 Wed Oct 11 12:55:00 xxxxxxxx@xxxxxxxxx.it",
        "(host yyyyyyyyyy.mail.protection.outlook.com[52.101.68.21] said: 452 4.5.3 Too many "
        "recipients (AS780090) [DU6PEPF0000A7E1.eurprd02.prod.outlook.com "
        "2023-10-11T14:33:58.593Z 08DBC92F5C76D55D] (in reply to RCPT TO command))",
        "yyyyyyyyyy@yyyyyyyyyy.com",
        "zzzzzzzzz@yyyyyyyyyy.com",
        "In questo esempio riportato dai nostri logs la mail è stata rifiutata per troppi "
        "destinatari e questi erano solo due. Riteniamo che dopo una serie di errori, il server "
        "mittente venga poi bannato.",
        "Si tiene monitorata la situazione",
    ]
)
OFFICE365_UPDATE = (
    "Verso la sera del giorno 11/10/2023 il problema sembra sia rientrato. Le mail hanno ripreso "
    "ad essere accettate regolarmente.\nAd ora non si sono più rilevati problemi"
)
MAINTENANCE_CLOSING = (
    "L’attività di aggiornamento server di posta prevista in data 22.05.21 è iniziata alle 10:00 "
    "e terminata ed andata a buon fine alle 10:45\nCi scusiamo per il disagio arrecato"
)
MAINTENANCE_PARAGRAPH = (
    "In tale data verranno effettuati degli aggiornamenti dei server applicando tutte le patch di "
    "sicurezza disponibili. A turno i server di posta interni verranno fermati, verranno "
    "effettuati backup straordinari atti a garantire al massimo l’integrità dei sistemi e poi si "
    "procederà agli aggiornamenti. Una volta terminati tali aggiornamenti si procederà alla "
    "verifica del corretto funzionamento e poi alla rimessa online per passare al server "
    "successivo. Il tempo complessivo delle operazioni sui singoli server dovrebbe essere "
    "inferiore ai 20 minuti quindi l’impatto sarà minimo. Durante tali operazioni, le caselle di "
    "posta non saranno raggiungibili in alcun modo (pop3, imap, webmail)"
)
# The e-mail sending incident, oldest post first (the sample lists it newest first).
EMAIL_INCIDENT = [
    (
        "Apertura: problemi nella gestione dell’invio email",
        "Un problema sul sistema DB che gestisce la posta sta creando alcune difficoltà per "
        "l’invio di mail\nI tecnici sono già all’opera per identificare il problema e risolverlo "
        "nel più breve tempo possibile",
    ),
    (
        "Aggiornamento: problemi nella gestione dell’invio email",
        "Il problema è stato causato da un’anomalia su un nodo del cluster DB che gestisce il "
        "sistema AV\nIl nodo è stato escluso dal cluster e sono ora in atto tutte le verifiche "
        "necessarie",
    ),
    (
        "Aggiornamento: problemi nella gestione dell’invio email",
        "Il problema nell’invio della posta è stato risolto\nA seguito del problema sui DB che "
        "gestiscono il sistema di posta, la consegna di alcune mail in arrivo sta subendo un "
        "leggero ritardo",
    ),
    (
        "Chiusura: problemi nella gestione dell’invio email",
        "Tutti i sistemi sono tornati pienamente operativi",
    ),
]


@dataclass(frozen=True)
class Replay:
    """A database filled by the CLI from DEMO_SCRIPT, and what each command answered."""

    directory: Path
    env: dict[str, str]
    results: list[subprocess.CompletedProcess[str]]


def herald(replay: Replay, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI on the replayed database."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=replay.directory,
        env=replay.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Replay:
    """Type the sample's commands into the real CLI, one process per line, on a fresh file."""
    directory = tmp_path_factory.mktemp("replay")
    empty = Replay(directory, clean_env(directory), [])
    assert herald(empty, "db", "upgrade").returncode == 0
    results = [herald(empty, *argv) for argv in DEMO_SCRIPT]
    return Replay(directory, empty.env, results)


@pytest.fixture(scope="module")
def posts(replay: Replay) -> dict[int, list[PublicPost]]:
    """Every public update of the replayed database, rendered in Italian, by incident id."""
    return render_all(replay.directory / "herald.db", locale="it")


@pytest.fixture(scope="module")
def incidents(replay: Replay) -> dict[int, Incident]:
    """The replayed incidents by id."""
    engine = make_engine(f"sqlite:///{replay.directory / 'herald.db'}")
    try:
        with make_session_factory(engine)() as session:
            found = incident_store.list_incidents(session=session, include_closed=True)
            return {i.id: i for i in found if i.id is not None}
    finally:
        engine.dispose()


def render_all(path: Path, *, locale: str) -> dict[int, list[PublicPost]]:
    """Render every public update in a database file, as a channel in `locale` would."""
    engine = make_engine(f"sqlite:///{path}")
    rendered: dict[int, list[PublicPost]] = {}
    try:
        with make_session_factory(engine)() as session:
            for incident in incident_store.list_incidents(session=session, include_closed=True):
                assert incident.id is not None
                timeline = update_store.list_updates(
                    session=session, incident_id=incident.id, public_only=True
                )
                rendered[incident.id] = [
                    render_update(incident, update, locale=locale, zone=ROME) for update in timeline
                ]
    finally:
        engine.dispose()
    return rendered


def test_every_line_of_the_script_succeeds_quietly(replay: Replay) -> None:
    for argv, result in zip(DEMO_SCRIPT, replay.results, strict=True):
        assert result.returncode == 0, (argv[:3], result.stderr)
        assert result.stderr == "", argv[:3]
        assert result.stdout.count("\n") == 1, argv[:3]


def test_list_all_shows_three_incidents_and_two_maintenance_windows(replay: Replay) -> None:
    listed = herald(replay, "list", "--all")
    assert listed.returncode == 0
    rows = [line.split()[:3] for line in listed.stdout.splitlines()]
    assert rows == [
        ["INC-5", "SEV1", "resolved"],
        ["INC-4", "SEV2", "resolved"],
        ["INC-3", "SEV3", "resolved"],
        ["INC-2", "MAINT", "completed"],
        ["INC-1", "MAINT", "completed"],
    ]
    assert "Guasto sistema risoluzione interno · posta, web, dns" in listed.stdout
    assert "window 2021-05-22 10:00 CEST → 2021-05-22 12:00 CEST" in listed.stdout


def test_show_tells_the_dns_failure_in_the_samples_words(replay: Replay) -> None:
    shown = herald(replay, "show", "INC-5")
    assert shown.returncode == 0
    lines = shown.stdout.splitlines()
    assert lines[1].startswith("Opened 2025-01-28 14:50 CET by ")
    assert lines[1].endswith("closed 2025-01-28 16:30 CET after 1 h 40 min")
    assert lines[2].startswith("#1 2025-01-28 14:50 CET Apertura [investigating]")
    assert lines[3] == f"    {DNS_OPENING}"
    closing = lines.index(next(line for line in lines if line.startswith("#2 ")))
    assert lines[closing].startswith("#2 2025-01-28 16:30 CET Chiusura [resolved]")
    assert lines[closing + 1 : closing + 3] == ["    " + line for line in DNS_CLOSING.split("\n")]


def test_show_keeps_the_office365_log_excerpt_line_by_line(replay: Replay) -> None:
    shown = herald(replay, "show", "3")
    assert shown.returncode == 0
    indented = "\n".join("    " + line for line in OFFICE365_OPENING.split("\n"))
    assert indented in shown.stdout
    assert "#2 2023-10-12 10:53 CEST Aggiornamento [monitoring]" in shown.stdout


def test_the_dns_failure_opens_and_closes_with_the_samples_stamps(
    posts: dict[int, list[PublicPost]],
) -> None:
    opening, closing = posts[5]
    assert opening.as_text() == (
        f"Apertura: guasto sistema risoluzione interno\n28/01/2025 ore 14:50\n{DNS_OPENING}"
    )
    assert closing.headline == "Chiusura: guasto sistema risoluzione interno"
    assert closing.stamp == "28/01/2025 ore 16:30"
    assert closing.body == DNS_CLOSING
    assert opening.impact == "Disservizio critico"


def test_the_office365_incident_reads_like_the_sample(
    posts: dict[int, list[PublicPost]], incidents: dict[int, Incident]
) -> None:
    assert display_title(incidents[3], locale="it") == "Problemi di consegna posta (risolto)"
    opening, update, closing = posts[3]
    assert opening.body == OFFICE365_OPENING
    assert update.headline == "Aggiornamento: problemi di consegna posta"
    assert update.stamp == "12/10/2023 ore 10:53"
    assert update.body == OFFICE365_UPDATE
    assert update.status == "Sotto osservazione"
    # Resolved without text: Herald's own closing words.
    assert closing.as_text() == (
        "Chiusura: problemi di consegna posta\n12/10/2023 ore 18:00\n"
        "Tutti i sistemi sono tornati pienamente operativi."
    )


def test_the_email_sending_incident_has_the_samples_four_posts(
    posts: dict[int, list[PublicPost]],
) -> None:
    assert [(p.headline, p.body) for p in posts[4]] == EMAIL_INCIDENT
    assert [p.stamp for p in posts[4]] == [
        "14/03/2024 ore 09:20",
        "14/03/2024 ore 10:05",
        "14/03/2024 ore 11:40",
        "14/03/2024 ore 13:15",
    ]


def test_the_maintenance_is_announced_with_its_window(
    posts: dict[int, list[PublicPost]], incidents: dict[int, Incident]
) -> None:
    announcement, started, completed = posts[1]
    assert announcement.headline == "Manutenzione programmata: aggiornamento server di posta"
    assert announcement.stamp == "14/05/2021 ore 09:00"
    assert announcement.window == "In data 22/05/2021 dalle ore 10:00 alle ore 12:00"
    assert announcement.body.startswith("In data 22/05/2021 dalle ore 10:00 alle ore 12:00 ")
    assert "Cosa avverrà il 22.05.2021?" in announcement.body
    assert started.stamp == "22/05/2021 ore 10:00"
    assert completed.headline == "Chiusura: aggiornamento server di posta"
    assert completed.stamp == "22/05/2021 ore 10:45"
    assert completed.body == MAINTENANCE_CLOSING
    assert display_title(incidents[1], locale="it") == "Aggiornamento server di posta (conclusa)"


def test_the_maintenance_announcement_keeps_the_samples_paragraph(
    posts: dict[int, list[PublicPost]],
) -> None:
    assert MAINTENANCE_PARAGRAPH in posts[1][0].body


def test_the_second_maintenance_closes_with_herald_words(
    posts: dict[int, list[PublicPost]],
) -> None:
    announcement, _, completed = posts[2]
    assert announcement.window == "In data 05/06/2021 dalle ore 10:00 alle ore 12:00"
    assert completed.body == (
        "L’attività prevista in data 05/06/2021 è iniziata alle 10:00 ed è terminata alle 11:30."
    )


def test_english_channels_get_the_same_facts_with_zones(replay: Replay) -> None:
    english = render_all(replay.directory / "herald.db", locale="en")
    assert english[5][0].headline == "Opened: Guasto sistema risoluzione interno"
    assert english[5][0].stamp == "28 Jan 2025, 14:50 CET"
    assert english[3][1].stamp == "12 Oct 2023, 10:53 CEST"
    assert english[1][0].window == "On 22 May 2021 from 10:00 to 12:00 CEST"
    assert english[5][0].body == DNS_OPENING


def test_herald_demo_loads_the_same_record_and_refuses_a_second_time(
    tmp_path: Path, replay: Replay, posts: dict[int, list[PublicPost]]
) -> None:
    demo = Replay(tmp_path, clean_env(tmp_path), [])
    loaded = herald(demo, "demo")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith(f"Loaded the sample: {len(DEMO_SCRIPT)} commands")
    again = herald(demo, "demo")
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr.splitlines() == [
        "herald: The database has incidents or components already; demo loads only into an "
        "empty one (point DATABASE_URL at a new file)."
    ]
    texts = {
        n: [p.as_text() for p in timeline]
        for n, timeline in render_all(tmp_path / "herald.db", locale="it").items()
    }
    assert texts == {n: [p.as_text() for p in timeline] for n, timeline in posts.items()}


def test_herald_demo_refuses_the_replayed_database(replay: Replay) -> None:
    refused = herald(replay, "demo")
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert refused.stderr.startswith("herald: The database has incidents or components already")
    assert len(herald(replay, "list", "--all").stdout.splitlines()) == 5
