"""The sample ISP a benchmark database describes: components, channels, people and their words.

Italian, like the ISP's own status posts; seed.py draws from these at random.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from storage.models import Platform

ROME = ZoneInfo("Europe/Rome")
YEAR = timedelta(days=365)
SPAN = 3 * YEAR


@dataclass(frozen=True)
class ComponentSpec:
    """A component with the titles its incidents get, and when it existed."""

    key: str
    name: str
    weight: int
    titles: tuple[str, ...]
    added_ago: timedelta = SPAN + timedelta(days=30)
    removed_ago: timedelta | None = None


COMPONENTS = (
    ComponentSpec(
        "posta",
        "Posta",
        30,
        (
            "Problemi di consegna posta",
            "Ritardi nella ricezione delle mail",
            "Webmail non raggiungibile",
            "Invio posta rallentato",
            "Mail rifiutate dai domini Office365",
            "Caselle IMAP non accessibili",
        ),
    ),
    ComponentSpec(
        "web",
        "Siti web",
        18,
        (
            "Siti web lenti o non raggiungibili",
            "Errori 502 sui siti in hosting",
            "Pannello di controllo non raggiungibile",
            "Certificati SSL non rinnovati su alcuni siti",
        ),
    ),
    ComponentSpec(
        "dns",
        "DNS",
        8,
        (
            "Risoluzione DNS intermittente",
            "Guasto sistema risoluzione interno",
            "Propagazione delle zone DNS rallentata",
        ),
    ),
    ComponentSpec(
        "pec",
        "PEC",
        10,
        (
            "PEC: ritardi nella consegna",
            "Ricevute PEC non recapitate",
            "Webmail PEC non disponibile",
        ),
    ),
    ComponentSpec(
        "vps",
        "Server virtuali",
        8,
        (
            "Server virtuali non raggiungibili",
            "Degrado prestazioni storage VPS",
            "Console VPS non disponibile",
        ),
    ),
    ComponentSpec(
        "voip",
        "Telefonia VoIP",
        7,
        (
            "Chiamate VoIP in uscita non funzionanti",
            "Audio monodirezionale sulle chiamate",
            "Centralino cloud non raggiungibile",
        ),
        added_ago=2 * YEAR,
    ),
    ComponentSpec(
        "fibra",
        "Connettività fibra",
        12,
        (
            "Interruzione connettività fibra zona Milano Est",
            "Perdita di pacchetti su linee FTTH",
            "Latenza elevata verso l’estero",
            "Guasto su apparato di aggregazione",
        ),
    ),
    ComponentSpec(
        "adsl",
        "Connettività ADSL",
        6,
        ("Linee ADSL disconnesse", "Lentezza sulle linee ADSL"),
        removed_ago=YEAR,
    ),
    ComponentSpec(
        "backup",
        "Backup remoto",
        4,
        ("Backup notturni non completati", "Ripristino da backup rallentato"),
        added_ago=YEAR + timedelta(days=180),
    ),
    ComponentSpec(
        "dc-milano",
        "Datacenter di Milano",
        3,
        (
            "Problema di alimentazione nel datacenter di Milano",
            "Guasto all’impianto di raffreddamento della sala 2",
        ),
    ),
)

MAINTENANCE_TITLES = {
    "posta": ("Aggiornamento server di posta", "Crittografia delle mail in ingresso"),
    "web": ("Aggiornamento piattaforma di hosting", "Migrazione dei siti su nuovi server"),
    "dns": ("Aggiornamento dei server DNS",),
    "pec": ("Aggiornamento piattaforma PEC",),
    "vps": ("Migrazione storage dei server virtuali",),
    "voip": ("Aggiornamento centralino cloud",),
    "fibra": ("Aggiornamento firmware router di core", "Sostituzione apparati di rete"),
    "adsl": ("Dismissione apparati ADSL di Milano Ovest",),
    "backup": ("Ampliamento storage di backup",),
    "dc-milano": ("Test gruppi elettrogeni del datacenter di Milano",),
}

PEOPLE = (
    "marco.rossi",
    "giulia.bianchi",
    "luca.ferrari",
    "sara.colombo",
    "andrea.ricci",
    "francesca.romano",
    "davide.galli",
    "elena.conti",
)
FRONT_ENDS = ("slack", "telegram", "cli")
FRONT_END_WEIGHTS = (50, 30, 20)
HOSTS = ("mx1", "mx3", "web-lb2", "ns1", "pec-gw1", "vps-stor3", "core-sw1", "voip-sbc2")

OPENINGS = (
    "Ci risultano segnalazioni relative a: {problem}. I tecnici sono già all’opera per "
    "identificare il problema e risolverlo nel più breve tempo possibile.",
    "A partire dalle {clock} si stanno verificando disservizi su {name}. Stiamo analizzando "
    "la situazione.",
    "Alcuni clienti segnalano {problem}. Seguiranno aggiornamenti.",
    "Da alcune ore riscontriamo {problem}.\nDa quanto possiamo vedere sui log dei server "
    "il problema riguarda solo una parte delle utenze. Si tiene monitorata la situazione.",
)
STILL_INVESTIGATING = (
    "Le verifiche sono ancora in corso; seguiranno aggiornamenti.",
    "Stiamo coinvolgendo il fornitore per approfondire l’analisi.",
    "Il disservizio interessa ancora alcune utenze; stiamo raccogliendo ulteriori informazioni.",
)
CAUSES = (
    "da un’anomalia su un nodo del cluster DB che gestisce il sistema AV",
    "dal guasto di uno switch di core nel datacenter di Milano",
    "da un aggiornamento software del fornitore a monte",
    "da un attacco DDoS verso la nostra rete",
    "dalla saturazione dello storage condiviso",
    "da un certificato scaduto su un bilanciatore",
    "da un errore di configurazione su un router di frontiera",
    "dal taglio di una fibra durante lavori stradali",
    "dal blocco dei nostri indirizzi IP da parte di un grande provider",
    "da un disco guasto nell’array principale",
)
ACTIONS = (
    "Il nodo è stato escluso dal cluster e sono ora in atto tutte le verifiche necessarie.",
    "È in corso la sostituzione dell’apparato.",
    "Stiamo applicando un correttivo.",
    "Abbiamo aperto una segnalazione con il fornitore, che è già al lavoro.",
)
STILL_IDENTIFIED = (
    "Proseguono gli interventi per ripristinare il servizio.",
    "La sostituzione è quasi completata; il servizio tornerà disponibile a breve.",
    "Il fornitore ha confermato la causa e sta intervenendo.",
)
MONITORING = (
    "Il correttivo è stato applicato e il servizio sta tornando alla normalità. Si tiene "
    "monitorata la situazione.",
    "La situazione è in miglioramento; alcune mail in arrivo potrebbero subire un leggero ritardo.",
    "Il servizio ha ripreso a funzionare regolarmente.\nAd ora non si sono più rilevati problemi.",
)
STILL_MONITORING = (
    "Nessuna nuova segnalazione nelle ultime ore; proseguiamo il monitoraggio.",
    "Le code si stanno smaltendo; alcuni messaggi potrebbero arrivare con ritardo.",
)
RESOLUTIONS = (
    "Tutti i sistemi sono tornati pienamente operativi.",
    "Il guasto è stato identificato e risolto. I sistemi hanno ripreso a funzionare correttamente.",
    "Il problema è stato risolto.\nLa posta non recapitata durante il fermo è rimasta accodata "
    "sui nostri sistemi di backup esterni ed è stata regolarmente consegnata al ripristino.",
)
APOLOGY = " Ci scusiamo per il disagio arrecato."
REOPENING = "Il problema si è ripresentato; stiamo analizzando nuovamente la situazione."
NOTES = (
    "Aperto ticket {ticket} con il fornitore.",
    "Riavviato {host}: nessun effetto per ora.",
    "Chiamato il reperibile di rete, arriva in sala alle {clock}.",
    "Il cliente {customer} segnala ancora errori, ricontrollare dopo il riavvio.",
    "Carico su {host} in rientro, lasciamo il monitoraggio attivo.",
    "Da rivedere nel post-mortem: gli allarmi sono arrivati in ritardo.",
)
MAINTENANCE_IMPACTS = (
    "le caselle di posta non saranno raggiungibili in alcun modo (pop3, imap, webmail)",
    "i siti potrebbero non rispondere per alcuni minuti",
    "potranno verificarsi brevi disconnessioni",
    "le chiamate in corso potrebbero cadere",
)
MAINTENANCE_DETAIL = (
    "Durante l’intervento {impact}. Il tempo complessivo delle operazioni dovrebbe essere "
    "inferiore ai {minutes} minuti, quindi l’impatto sarà minimo.",
    "Tali operazioni si rendono necessarie per il continuo mantenimento al massimo delle "
    "prestazioni e la messa in sicurezza dei nostri sistemi. Durante l’intervento {impact}.",
)
REMINDERS = (
    "Ricordiamo l’intervento programmato; nessuna azione è richiesta da parte vostra.",
    "Confermiamo l’intervento nella finestra indicata.",
)
MAINTENANCE_NOTES = (
    "Backup straordinario completato su {host}.",
    "Patch applicate su {host}, riavvio in corso.",
    "Rollback pronto nel caso servisse.",
)
EXTENSION = "Le verifiche finali richiedono più tempo del previsto."
COMPLETIONS = (
    "",
    "L’attività è terminata ed è andata a buon fine.\nCi scusiamo per il disagio arrecato.",
)
CANCELLATIONS = ("", "L’intervento è rinviato a data da destinarsi.")
DEAD_ERRORS = {
    Platform.TELEGRAM: "Forbidden: bot was blocked by the user",
    Platform.SLACK: "channel_not_found",
    Platform.WEBHOOK: "HTTP 502 Bad Gateway",
}


@dataclass(frozen=True)
class ChannelSpec:
    """A destination customers follow, with its filters."""

    platform: Platform
    address: str
    locale: str = "it"
    min_severity: int | None = None
    component_keys: tuple[str, ...] = ()
    disabled_ago: timedelta | None = None
    disabled_reason: str | None = None
    secret: str | None = None


CHANNELS = (
    ChannelSpec(Platform.TELEGRAM, "@stato_servizi"),
    ChannelSpec(
        Platform.TELEGRAM, "-1001234567890", min_severity=2, component_keys=("posta", "pec")
    ),
    ChannelSpec(Platform.SLACK, "C01STATOCLIENTI"),
    ChannelSpec(Platform.SLACK, "C02NOCALLARMI", locale="en", min_severity=3),
    ChannelSpec(
        Platform.WEBHOOK, "https://status.example.it/hooks/herald", secret=secrets.token_urlsafe(24)
    ),
    ChannelSpec(
        Platform.WEBHOOK,
        "https://partner.example.com/incidents",
        locale="en",
        min_severity=2,
        component_keys=("fibra", "dns"),
        disabled_ago=timedelta(days=200),
        disabled_reason="HTTP 410 Gone: the partner retired the endpoint",
    ),
)
