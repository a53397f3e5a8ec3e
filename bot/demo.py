"""The sample ISP's public record, as the CLI commands that reproduce it (`herald demo`)."""

from __future__ import annotations

from sqlmodel import func, select

from commands.context import Context
from commands.dispatch import execute
from commands.errors import Refused
from commands.parser import parse_argv
from storage.models import Component, Incident

MAINTENANCE_ANNOUNCEMENT = """\
Tali operazioni si rendono necessarie per due importanti fattori, primo fra tutti la continua \
nostra attività di mantenimento al massimo delle prestazioni e messa in sicurezza dei nostri \
sistemi, il secondo invece è la volontà di attivare un ulteriore sistema di protezione dei vostri \
dati attivando una criptazione delle mail sui nostri sistemi a difesa della privacy dei dati in \
esse contenute.

Cosa avverrà il 22.05.2021?
In tale data verranno effettuati degli aggiornamenti dei server applicando tutte le patch di \
sicurezza disponibili. A turno i server di posta interni verranno fermati, verranno effettuati \
backup straordinari atti a garantire al massimo l’integrità dei sistemi e poi si procederà agli \
aggiornamenti. Una volta terminati tali aggiornamenti si procederà alla verifica del corretto \
funzionamento e poi alla rimessa online per passare al server successivo. Il tempo complessivo delle operazioni sui singoli server dovrebbe essere inferiore \
ai 20 minuti quindi l’impatto sarà minimo. Durante tali operazioni, le caselle di posta non \
saranno raggiungibili in alcun modo (pop3, imap, webmail)

E’ possibile che vengano perse delle mail in ingresso durante le operazioni?
No, questo non è possibile in quanto le mail che non possono essere consegnate verranno accodate \
sui server di posta esterni che provvederanno poi a consegnare quanto in giacenza appena il \
server interno tornerà online

Sarà possibile inviare mail?
Certamente, il servizio di invio non verrà coinvolto per gli utenti che accedono via client ma, \
chi utilizza IMAP, potrebbe non trovare salvata la mail in uscita, che verrà comunque spedita al \
destinatario. Ovviamente se uno dei destinatari è gestito da uno dei server in manutenzione, la \
mail verrà recapitata solo ad operazioni concluse"""

ENCRYPTION_ANNOUNCEMENT = """\
In tale data verranno applicate le modifiche che permetteranno di salvare le nuove mail in \
ingresso in modo crittografato, rendendole quindi illeggibili se non in possesso di una \
specifica chiave (diversa per ogni utenza) che viene salvata in una diversa area della nostra \
infrastruttura.

Per poter leggere le mail sarà necessario fare delle modifiche?
Assolutamente no. Sarà compito dei nostri sistemi crittografare le mail in arrivo e salvarle sui \
server, sarà sempre compito loro procedere all’operazione inversa per poterle così consegnare ai \
vostri client di posta in modo totalmente trasparente agli utenti"""

OFFICE365_OPENING = """\
Da questa mattina ci risulta difficoltoso consegnare le mail ai domini che si appoggiano a \
Office365.
Da quanto possiamo vedere sui logs dei server di posta, vengono rifiutate le mail con più di un \
destinatario
2AF28A3A3F 51075 Wed Oct 11 12:55:00 xxxxxxxx@xxxxxxxxx.it
(host yyyyyyyyyy.mail.protection.outlook.com[52.101.68.21] said: 452 4.5.3 Too many recipients \
(AS780090) [DU6PEPF0000A7E1.eurprd02.prod.outlook.com 2023-10-11T14:33:58.593Z \
08DBC92F5C76D55D] (in reply to RCPT TO command))
yyyyyyyyyy@yyyyyyyyyy.com
zzzzzzzzz@yyyyyyyyyy.com
In questo esempio riportato dai nostri logs la mail è stata rifiutata per troppi destinatari e \
questi erano solo due. Riteniamo che dopo una serie di errori, il server mittente venga poi \
bannato.
Si tiene monitorata la situazione"""

# Dates the sample gives are kept; where it gives none (the e-mail sending incident,
# the announcement days) plausible ones are chosen.
DEMO_SCRIPT: tuple[tuple[str, ...], ...] = (
    ("components", "add", "posta", "Posta"),
    ("components", "add", "web", "Web"),
    ("components", "add", "dns", "DNS"),
    (
        "maintenance",
        "schedule",
        "Aggiornamento server di posta",
        "--start",
        "22/05/2021 10:00",
        "--end",
        "22/05/2021 12:00",
        "--components",
        "posta",
        "--at",
        "14/05/2021 09:00",
        "--message",
        MAINTENANCE_ANNOUNCEMENT,
    ),
    (
        "maintenance",
        "schedule",
        "Crittografia delle mail in ingresso",
        "--start",
        "05/06/2021 10:00",
        "--end",
        "05/06/2021 12:00",
        "--components",
        "posta",
        "--at",
        "14/05/2021 09:05",
        "--message",
        ENCRYPTION_ANNOUNCEMENT,
    ),
    ("maintenance", "start", "1", "--at", "22/05/2021 10:00"),
    (
        "maintenance",
        "complete",
        "1",
        "--at",
        "22/05/2021 10:45",
        "L’attività di aggiornamento server di posta prevista in data 22.05.21 è iniziata alle "
        "10:00 e terminata ed andata a buon fine alle 10:45\nCi scusiamo per il disagio arrecato",
    ),
    ("maintenance", "start", "2", "--at", "05/06/2021 10:00"),
    ("maintenance", "complete", "2", "--at", "05/06/2021 11:30"),
    (
        "open",
        "Problemi di consegna posta",
        "--sev",
        "3",
        "--components",
        "posta",
        "--at",
        "11/10/2023 09:15",
        "--message",
        OFFICE365_OPENING,
    ),
    (
        "update",
        "3",
        "--status",
        "monitoring",
        "--at",
        "12/10/2023 10:53",
        "Verso la sera del giorno 11/10/2023 il problema sembra sia rientrato. Le mail hanno "
        "ripreso ad essere accettate regolarmente.\nAd ora non si sono più rilevati problemi",
    ),
    ("resolve", "3", "--at", "12/10/2023 18:00"),
    (
        "open",
        "Problemi nella gestione dell’invio email",
        "--sev",
        "2",
        "--components",
        "posta",
        "--at",
        "14/03/2024 09:20",
        "--message",
        "Un problema sul sistema DB che gestisce la posta sta creando alcune "
        "difficoltà per l’invio di mail\nI tecnici sono già all’opera per identificare il "
        "problema e risolverlo nel più breve tempo possibile",
    ),
    (
        "update",
        "4",
        "--status",
        "identified",
        "--at",
        "14/03/2024 10:05",
        "Il problema è stato causato da un’anomalia su un nodo del cluster DB che gestisce il "
        "sistema AV\nIl nodo è stato escluso dal cluster e sono ora in atto tutte le verifiche "
        "necessarie",
    ),
    (
        "update",
        "4",
        "--status",
        "monitoring",
        "--at",
        "14/03/2024 11:40",
        "Il problema nell’invio della posta è stato risolto\nA seguito del problema sui DB che "
        "gestiscono il sistema di posta, la consegna di alcune mail in arrivo sta subendo un "
        "leggero ritardo",
    ),
    (
        "resolve",
        "4",
        "--at",
        "14/03/2024 13:15",
        "Tutti i sistemi sono tornati pienamente operativi",
    ),
    (
        "open",
        "Guasto sistema risoluzione interno",
        "--sev",
        "1",
        "--components",
        "posta,web,dns",
        "--at",
        "28/01/2025 14:50",
        "--message",
        "A seguito di un guasto nei sistemi di risoluzione interna del nostro "
        "datacenter di Milano, i nostri sistemi di posta e alcuni sistemi web non sono "
        "raggiungibili",
    ),
    (
        "resolve",
        "5",
        "--at",
        "28/01/2025 16:30",
        "Il guasto è stato identificato e risolto. I sistemi hanno ripreso a funzionare "
        "correttamente.\nLa posta in ingresso che non è stata recapitata durante il periodo di "
        "fermo è rimasta accodata sui nostri sistemi di backup esterni ed è stata regolarmente "
        "consegnata al ripristino dei sistemi",
    ),
)


def load_demo(ctx: Context) -> str:
    """Replay the sample into an empty database; refuse if it has incidents already."""
    with ctx.sessions() as session:
        existing = session.exec(select(func.count()).select_from(Incident)).one()
        existing += session.exec(select(func.count()).select_from(Component)).one()
    if existing:
        raise Refused(
            "The database has incidents or components already; demo loads only into an empty one "
            "(point DATABASE_URL at a new file)."
        )
    for argv in DEMO_SCRIPT:
        execute(parse_argv(argv, clock=ctx.clock()), ctx)
    return (
        f"Loaded the sample: {len(DEMO_SCRIPT)} commands, 3 incidents and 2 maintenance "
        "windows. Try: herald list --all, herald show INC-5"
    )
