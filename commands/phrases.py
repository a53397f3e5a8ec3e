"""The words customers read, per locale; Italian follows the ISP's own status posts."""

from __future__ import annotations

from storage.models import IncidentStatus, UpdateKind

LABELS: dict[str, dict[UpdateKind, str]] = {
    "it": {
        UpdateKind.OPENED: "Apertura",
        UpdateKind.UPDATE: "Aggiornamento",
        UpdateKind.RESOLVED: "Chiusura",
        UpdateKind.REOPENED: "Riapertura",
        UpdateKind.NOTE: "Nota interna",
        UpdateKind.MAINTENANCE_SCHEDULED: "Manutenzione programmata",
        UpdateKind.MAINTENANCE_STARTED: "Inizio manutenzione",
        UpdateKind.MAINTENANCE_COMPLETED: "Chiusura",
        UpdateKind.MAINTENANCE_CANCELLED: "Manutenzione annullata",
        UpdateKind.MAINTENANCE_EXTENDED: "Manutenzione prolungata",
        UpdateKind.MAINTENANCE_RESCHEDULED: "Manutenzione riprogrammata",
        UpdateKind.MAINTENANCE_REMINDER: "Promemoria",
        UpdateKind.NUDGE: "Sollecito",
    },
    "en": {
        UpdateKind.OPENED: "Opened",
        UpdateKind.UPDATE: "Update",
        UpdateKind.RESOLVED: "Resolved",
        UpdateKind.REOPENED: "Reopened",
        UpdateKind.NOTE: "Internal note",
        UpdateKind.MAINTENANCE_SCHEDULED: "Scheduled maintenance",
        UpdateKind.MAINTENANCE_STARTED: "Maintenance started",
        UpdateKind.MAINTENANCE_COMPLETED: "Maintenance completed",
        UpdateKind.MAINTENANCE_CANCELLED: "Maintenance cancelled",
        UpdateKind.MAINTENANCE_EXTENDED: "Maintenance extended",
        UpdateKind.MAINTENANCE_RESCHEDULED: "Maintenance rescheduled",
        UpdateKind.MAINTENANCE_REMINDER: "Reminder",
        UpdateKind.NUDGE: "Nudge",
    },
}

STATUSES: dict[str, dict[IncidentStatus, str]] = {
    "it": {
        IncidentStatus.INVESTIGATING: "In analisi",
        IncidentStatus.IDENTIFIED: "Problema identificato",
        IncidentStatus.MONITORING: "Sotto osservazione",
        IncidentStatus.RESOLVED: "Risolto",
        IncidentStatus.SCHEDULED: "Programmata",
        IncidentStatus.IN_PROGRESS: "In corso",
        IncidentStatus.COMPLETED: "Completata",
        IncidentStatus.CANCELLED: "Annullata",
    },
    "en": {
        IncidentStatus.INVESTIGATING: "Investigating",
        IncidentStatus.IDENTIFIED: "Identified",
        IncidentStatus.MONITORING: "Monitoring",
        IncidentStatus.RESOLVED: "Resolved",
        IncidentStatus.SCHEDULED: "Scheduled",
        IncidentStatus.IN_PROGRESS: "In progress",
        IncidentStatus.COMPLETED: "Completed",
        IncidentStatus.CANCELLED: "Cancelled",
    },
}

IMPACTS: dict[str, dict[int, str]] = {
    "it": {
        1: "Disservizio critico",
        2: "Disservizio grave",
        3: "Disservizio lieve",
        4: "Nessun impatto",
    },
    "en": {1: "Critical", 2: "Major", 3: "Minor", 4: "None"},
}

RESOLVED_SUFFIX = {"it": "(risolto)", "en": "(resolved)"}
COMPLETED_SUFFIX = {"it": "(conclusa)", "en": "(completed)"}
CANCELLED_SUFFIX = {"it": "(annullata)", "en": "(cancelled)"}

# Used when the engineer gave no text of their own.
DEFAULT_TEXT: dict[str, dict[UpdateKind, str]] = {
    "it": {
        UpdateKind.OPENED: "Stiamo verificando un problema. I tecnici sono già all’opera "
        "e seguiranno aggiornamenti.",
        UpdateKind.RESOLVED: "Tutti i sistemi sono tornati pienamente operativi.",
        UpdateKind.REOPENED: "Il problema si è ripresentato e i tecnici sono di nuovo all’opera.",
        UpdateKind.MAINTENANCE_STARTED: "La manutenzione programmata è iniziata.",
    },
    "en": {
        UpdateKind.OPENED: "We are investigating an issue. Engineers are already on it "
        "and more updates will follow.",
        UpdateKind.RESOLVED: "All systems are fully operational again.",
        UpdateKind.REOPENED: "The problem has come back and engineers are working on it again.",
        UpdateKind.MAINTENANCE_STARTED: "The scheduled maintenance has started.",
    },
}

# Sentences about a maintenance window; fields come from wording.window_fields.
WINDOW_SAME_DAY = {
    "it": "In data {day} dalle ore {start} alle ore {end}",
    "en": "On {day} from {start} to {end} {zone}",
}
WINDOW_DAYS = {
    "it": "Dal {day} ore {start} al {end_day} ore {end}",
    "en": "From {day}, {start} to {end_day}, {end} {zone}",
}
SCHEDULED_TEXT = {
    "it": "{window} verranno effettuate operazioni di manutenzione programmata.",
    "en": "{window} we will carry out scheduled maintenance.",
}
COMPLETED_TEXT = {
    "it": "L’attività prevista in data {day} è iniziata alle {start} ed è terminata alle {end}.",
    "en": "The maintenance planned for {day} started at {start} and was completed at {end} {zone}.",
}
CANCELLED_TEXT = {
    "it": "La manutenzione prevista in data {day} è stata annullata.",
    "en": "The maintenance planned for {day} has been cancelled.",
}
EXTENDED_TEXT = {
    "it": "La manutenzione si protrarrà fino al {end_day} ore {end}.",
    "en": "The maintenance will last until {end_day}, {end} {zone}.",
}
REMINDER_TEXT = {
    "it": "Ricordiamo che {window} verranno effettuate operazioni di manutenzione programmata.",
    "en": "A reminder: {window} we will carry out scheduled maintenance.",
}
RESCHEDULED_TEXT = {
    "it": "La manutenzione è stata spostata: {window} verranno effettuate le operazioni previste.",
    "en": "The maintenance has been moved: {window} we will carry out the planned work.",
}
EDITED = {"it": "(corretto)", "en": "(corrected)"}
# E-mail cannot be edited: a correction is a reply in the thread, marked with these.
CORRECTION = {"it": "Correzione", "en": "Correction"}
CORRECTION_TEXT = {
    "it": "Il messaggio precedente è stato corretto; questo è il testo giusto:",
    "en": "The earlier message was corrected; this is the right text:",
}
# The last line of every e-mail: where the incident is followed online.
FOLLOW_ONLINE = {"it": "Stato dei servizi: {url}", "en": "Service status: {url}"}
