"""What Herald says to a person managing their own subscription, per locale."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubscriberWords:
    """One locale's sentences; `{names}`, `{key}`, `{keys}` are filled in by the caller."""

    welcome: str
    subscribed: str
    unsubscribed: str
    left: str
    following_all: str
    following: str
    not_subscribed: str
    unknown_service: str
    language_set: str
    bad_language: str
    not_yours: str
    help: str
    menu: tuple[tuple[str, str], ...]  # Telegram's command menu in private chats


WORDS: dict[str, SubscriberWords] = {
    "it": SubscriberWords(
        welcome="Qui ricevi gli aggiornamenti sui disservizi e le manutenzioni dei servizi "
        "che scegli. Tocca un servizio per seguirlo o smettere.",
        subscribed="Iscrizione aggiornata.",
        unsubscribed="Non segui più quei servizi.",
        left="Non riceverai più aggiornamenti. Scrivi /start per tornare.",
        following_all="Segui tutti i servizi.",
        following="Segui: {names}.",
        not_subscribed="Non segui nessun servizio: /subscribe per seguirli tutti.",
        unknown_service="Servizio sconosciuto: {key}. Scegli tra: {keys}.",
        language_set="Lingua: italiano.",
        bad_language="Scrivi /lang it oppure /lang en.",
        not_yours="Questa chat riceve già gli aggiornamenti per conto degli operatori: "
        "iscriviti da un'altra chat.",
        help="/start — lo stato attuale e i servizi da seguire\n"
        "/subscribe [servizi] — segui quei servizi (tutti se non ne scrivi)\n"
        "/unsubscribe [servizi] — smetti di seguirli (senza servizi: smetti del tutto)\n"
        "/status — lo stato dei servizi adesso\n"
        "/lang it|en — la lingua degli aggiornamenti\n"
        "/help — questo testo",
        menu=(
            ("start", "lo stato attuale e i servizi da seguire"),
            ("subscribe", "segui dei servizi (tutti se non ne scrivi)"),
            ("unsubscribe", "smetti di seguirli, o del tutto"),
            ("status", "lo stato dei servizi adesso"),
            ("lang", "la lingua degli aggiornamenti: it o en"),
            ("help", "i comandi, e il tuo id Telegram"),
        ),
    ),
    "en": SubscriberWords(
        welcome="Here you get updates on outages and maintenance of the services you choose. "
        "Tap a service to follow it or stop.",
        subscribed="Subscription updated.",
        unsubscribed="You no longer follow those services.",
        left="You will get no more updates. Send /start to come back.",
        following_all="You follow every service.",
        following="You follow: {names}.",
        not_subscribed="You follow no service: /subscribe to follow them all.",
        unknown_service="Unknown service: {key}. Choose from: {keys}.",
        language_set="Language: English.",
        bad_language="Send /lang it or /lang en.",
        not_yours="This chat already gets updates on the operators' behalf: subscribe from "
        "another chat.",
        help="/start — the status now and the services to follow\n"
        "/subscribe [services] — follow those services (all of them when you name none)\n"
        "/unsubscribe [services] — stop following them (naming none: stop altogether)\n"
        "/status — the services' status now\n"
        "/lang it|en — the language of updates\n"
        "/help — this text",
        menu=(
            ("start", "the status now and the services to follow"),
            ("subscribe", "follow services (all of them when you name none)"),
            ("unsubscribe", "stop following them, or altogether"),
            ("status", "the services' status now"),
            ("lang", "the language of updates: it or en"),
            ("help", "the commands, and your Telegram id"),
        ),
    ),
}


@dataclass(frozen=True)
class MailWords:
    """One locale's words for e-mail subscriptions: the page's form, its answers, the
    mails; `{link}` is filled in by the caller."""

    title: str
    intro: str
    address_label: str
    services_label: str
    services_hint: str
    language_label: str
    subscribe_button: str
    sent: str
    bad_address: str
    bad_service: str
    too_many: str
    unavailable: str
    confirm_subject: str
    confirm_text: str
    confirm_page: str
    confirm_button: str
    confirmed: str
    manage_subject: str
    manage_text: str
    manage_title: str
    save_button: str
    saved: str
    leave_button: str
    left: str
    expired: str
    bad_link: str
    not_subscribed: str
    services_gone: str
    footer: str


MAIL_WORDS: dict[str, MailWords] = {
    "it": MailWords(
        title="Ricevi gli aggiornamenti per e-mail",
        intro="Ti scriviamo quando un servizio che scegli ha un disservizio o una "
        "manutenzione. Ti chiederemo di confermare l'indirizzo.",
        address_label="Indirizzo e-mail",
        services_label="Servizi",
        services_hint="Nessuno scelto: tutti i servizi.",
        language_label="Lingua degli aggiornamenti",
        subscribe_button="Iscriviti",
        sent="Se l'indirizzo può essere iscritto, riceverà tra poco un messaggio con un "
        "link: aprilo per confermare.",
        bad_address="Scrivi un indirizzo e-mail valido, come nome@esempio.it.",
        bad_service="Scegli i servizi dall'elenco.",
        too_many="Troppe richieste: riprova tra un'ora.",
        unavailable="Non è stato possibile inviare il messaggio ora: riprova tra qualche minuto.",
        confirm_subject="Conferma l'iscrizione agli aggiornamenti",
        confirm_text="Per ricevere gli aggiornamenti su disservizi e manutenzioni, conferma "
        "da questo link (vale 48 ore):\n\n{link}\n\nSe non hai chiesto tu l'iscrizione, "
        "ignora questo messaggio: non riceverai altro.",
        confirm_page="Conferma l'iscrizione di questo indirizzo agli aggiornamenti.",
        confirm_button="Conferma",
        confirmed="Iscrizione confermata.",
        manage_subject="La tua iscrizione agli aggiornamenti",
        manage_text="Sei già iscritto. Per cambiare i servizi o la lingua, o per "
        "cancellarti, apri:\n\n{link}",
        manage_title="La tua iscrizione",
        save_button="Salva",
        saved="Scelte salvate.",
        leave_button="Cancellami",
        left="Iscrizione cancellata: l'indirizzo è stato eliminato.",
        expired="Il link è scaduto: iscriviti di nuovo dalla pagina di stato.",
        bad_link="Questo link non è valido: usa quello dell'ultimo messaggio ricevuto.",
        not_subscribed="Questo indirizzo non è iscritto.",
        services_gone="I servizi scelti non esistono più: iscriviti di nuovo dalla pagina.",
        footer="Cambia servizi o lingua, o cancellati: {link}",
    ),
    "en": MailWords(
        title="Get updates by e-mail",
        intro="We write when a service you choose has an outage or maintenance. We will "
        "ask you to confirm the address.",
        address_label="E-mail address",
        services_label="Services",
        services_hint="None chosen: every service.",
        language_label="Language of the updates",
        subscribe_button="Subscribe",
        sent="If the address can be subscribed, it will shortly get a message with a link: "
        "open it to confirm.",
        bad_address="Write a valid e-mail address, like name@example.com.",
        bad_service="Choose the services from the list.",
        too_many="Too many requests: try again in an hour.",
        unavailable="The message could not be sent now: try again in a few minutes.",
        confirm_subject="Confirm your subscription to updates",
        confirm_text="To get updates on outages and maintenance, confirm with this link "
        "(valid for 48 hours):\n\n{link}\n\nIf you did not ask to subscribe, ignore this "
        "message: you will get nothing else.",
        confirm_page="Confirm this address's subscription to updates.",
        confirm_button="Confirm",
        confirmed="Subscription confirmed.",
        manage_subject="Your subscription to updates",
        manage_text="You are subscribed already. To change the services or the language, "
        "or to leave, open:\n\n{link}",
        manage_title="Your subscription",
        save_button="Save",
        saved="Choices saved.",
        leave_button="Unsubscribe me",
        left="Unsubscribed: the address was deleted.",
        expired="The link has expired: subscribe again from the status page.",
        bad_link="This link is not valid: use the one in the latest message you got.",
        not_subscribed="This address is not subscribed.",
        services_gone="The services chosen no longer exist: subscribe again from the page.",
        footer="Change services or language, or leave: {link}",
    ),
}
