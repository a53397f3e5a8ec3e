"""The long-lived process types and the database tasks behind `herald serve|web|worker|db|demo`."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import getpass
import logging
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

from bot.database import Database, open_database, redacted_url, require_database
from bot.scheduler import Scheduler, run_scheduler
from bot.settings import Settings
from commands.context import SCHEDULER, Actor, Context
from commands.errors import Refused
from storage.migrate import current_revision

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from bot.frontend.command_processes import CommandProcesses
    from bot.slack.setup import SlackFrontEnd
    from bot.telegram.setup import TelegramFrontEnd

log = logging.getLogger("herald")

# Commands run in threads, and SQLAlchemy holds the GIL for most of a command. The event
# loop that acks Slack waits for the GIL each time it wakes, several times a request, up
# to the switch interval each time (5 ms by default): acks queued behind SQL. A shorter
# interval makes a busy thread hand the GIL over sooner.
SWITCH_INTERVAL_SECONDS = 0.0005


def _context(
    settings: Settings,
    database: Database,
    actor: Actor,
    changed: Callable[[], None] | None = None,
) -> Context:
    return Context(
        sessions=database.sessions,
        zone=settings.zone,
        locale=settings.locale,
        actor=actor,
        remind_before=settings.maintenance_reminder,
        changed=changed,
    )


def db(settings: Settings, action: str, say: Callable[[str], None]) -> int:
    """`herald db upgrade` migrates; `herald db current` prints the schema revision."""
    if action == "upgrade":
        database = open_database(settings, migrate=True, create=True)
        say(
            f"Database {redacted_url(settings)} is at revision {current_revision(database.engine)}."
        )
        database.dispose()
    else:
        from storage.engine import make_engine

        require_database(settings)
        engine = make_engine(settings.sqlalchemy_url)
        say(current_revision(engine) or "empty: run herald db upgrade")
        engine.dispose()
    return 0


def demo(settings: Settings, say: Callable[[str], None]) -> int:
    """Load the sample incidents into an empty database."""
    from bot.demo import load_demo

    database = open_database(settings, create=True)
    try:
        ctx = _context(settings, database, Actor(getpass.getuser(), "cli"))
        say(load_demo(ctx))
    finally:
        database.dispose()
    return 0


def listen(settings: Settings) -> socket.socket:
    """Bind the web app's socket now, so a port in use stops start-up with one clear line."""
    host, port = settings.host, settings.port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio sets TCP_NODELAY only on such sockets, and without it
    # every response waits out a 40 ms delayed-ACK stall.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        # Listen now too: with SO_REUSEADDR Linux lets two processes bind the same port,
        # and only listen() tells the second one that the first got there.
        listener.listen()
    except OSError as error:
        listener.close()
        if error.errno == errno.EADDRINUSE:
            raise Refused(
                f"port {port} on {host} is in use; stop the other process or set PORT"
            ) from None
        raise Refused(
            f"cannot listen on port {port} on {host} ({error.strerror or error}); "
            "check HOST and PORT"
        ) from None
    return listener


async def _serve_web(
    settings: Settings,
    database: Database,
    stop: asyncio.Event,
    slack: SlackFrontEnd | None,
    telegram: TelegramFrontEnd | None,
    listener: socket.socket,
) -> None:
    import uvicorn

    from bot.web import create_app

    class Server(uvicorn.Server):
        # Signals are Herald's to handle (see _main): uvicorn's own handling would
        # re-raise SIGTERM after shutdown and kill the worker mid-step.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    from bot.metrics import metrics_route

    token = settings.metrics_token
    routes: list[BaseRoute] = [
        metrics_route(database, token.get_secret_value() if token is not None else None)
    ]
    if slack is not None and settings.slack_signing_secret is not None:
        routes.insert(0, slack.route())
        log.info("Slack: requests at %s/slack/events", settings.public_url.rstrip("/"))
    if telegram is not None and settings.telegram_webhook:
        routes.insert(0, telegram.route())
    config = uvicorn.Config(
        create_app(settings, database, routes),
        host=settings.host,
        port=settings.port,
        log_config=None,
        proxy_headers=True,
        # h11 refuses a request head over 16 KB. httptools, which uvicorn takes instead
        # wherever it is installed (uvicorn[standard]), is faster but has no such limit:
        # one endless header line grew the process by 400 MB.
        http="h11",
        # A line per request costs a fifth of the status page's throughput; DEBUG has it.
        access_log=settings.log_level.upper() == "DEBUG",
    )
    server = Server(config)
    watcher = asyncio.create_task(_stop_server_on(stop, server))
    log.info(
        "web app on http://%s:%d (public URL %s)", settings.host, settings.port, settings.public_url
    )
    try:
        await server.serve(sockets=[listener])
        if not stop.is_set():
            raise RuntimeError("the web server stopped by itself")
    finally:
        watcher.cancel()


async def _stop_server_on(stop: asyncio.Event, server: Any) -> None:
    await stop.wait()
    server.should_exit = True


async def _supervise(
    name: str, part: Coroutine[Any, Any, None], stop: asyncio.Event, failures: list[str]
) -> None:
    """Run one part; if it fails, note why and stop every other part."""
    try:
        await part
    except (Exception, SystemExit) as error:  # uvicorn ends a failed start-up with sys.exit
        log.exception("%s failed; stopping the other parts", name)
        failures.append(f"the {name} failed ({_reason(error)})")
        stop.set()


def _reason(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"exit code {error.code}"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def _main(
    settings: Settings, database: Database, process: str, listener: socket.socket | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    parts: dict[str, Coroutine[Any, Any, None]] = {}
    delivery = None
    if process in ("serve", "worker"):
        from bot.delivery.setup import build_worker, keep_sender_leases, listen_for_outbox

        delivery = build_worker(settings, database)
        ctx = _context(settings, database, SCHEDULER, changed=delivery.wake_from_any_thread)
        parts["scheduler"] = run_scheduler(
            Scheduler(settings, ctx), stop, poll_seconds=settings.worker_poll_seconds
        )
        parts["delivery worker"] = delivery.run(stop)
        parts["outbox listener"] = listen_for_outbox(settings, delivery, stop)
        parts["sender leases"] = keep_sender_leases(delivery, stop)
    wake = delivery.wake_from_any_thread if delivery is not None else None
    commands = _command_processes(settings, process)
    slack = None
    if process in ("serve", "web") and settings.slack_bot_token is not None:
        from bot.slack.setup import build_slack, slack_configured

        slack = (
            build_slack(settings, database, changed=wake, processes=commands)
            if slack_configured(settings)
            else None
        )
        if slack is not None and settings.slack_app_token is not None:
            parts["Slack Socket Mode client"] = slack.run_socket_mode(
                settings.slack_app_token.get_secret_value(), stop
            )
    telegram = _telegram(settings, database, process, wake, commands)
    if telegram is not None:
        poll = not settings.telegram_webhook
        parts["Telegram front-end"] = telegram.run(stop, poll=poll)
    if listener is not None:
        parts["web app"] = _serve_web(settings, database, stop, slack, telegram, listener)
    failures: list[str] = []
    try:
        await asyncio.gather(
            *(_supervise(name, part, stop, failures) for name, part in parts.items())
        )
    finally:
        if slack is not None:
            await slack.close()
        if telegram is not None:
            await telegram.close()
        if delivery is not None:
            from bot.delivery.setup import close_senders

            await close_senders(delivery)
        if commands is not None:
            await asyncio.to_thread(commands.close)
    if failures:
        raise Refused(f"herald {process} stopped: {failures[0]}; see the log above")
    log.info("herald %s stopped", process)


def _command_processes(settings: Settings, process: str) -> CommandProcesses | None:
    """The processes that run the chat commands of `herald web` on PostgreSQL, so their SQL
    never holds the GIL against the acks; None elsewhere.

    `herald serve` keeps commands in threads: its delivery worker shares the process and
    is woken by a direct call after each change (on SQLite there is no NOTIFY), and
    processes writing one SQLite file would queue on its lock anyway.
    """
    if process != "web" or settings.is_sqlite:
        return None
    if settings.slack_bot_token is None and not settings.telegram_webhook:
        return None  # no front-end here runs commands
    from bot.frontend.command_processes import CommandProcesses, command_processes

    return CommandProcesses(settings, command_processes(settings.web_concurrency))


def _telegram(
    settings: Settings,
    database: Database,
    process: str,
    wake: Callable[[], None] | None,
    commands: CommandProcesses | None,
) -> TelegramFrontEnd | None:
    """The Telegram front-end this process runs: polling in serve or telegram, the webhook
    in serve or web; None when it runs elsewhere or Telegram is off."""
    if settings.telegram_bot_token is None:
        return None
    wanted = ("serve", "web") if settings.telegram_webhook else ("serve", "telegram")
    if process not in wanted:
        if process == "web":
            log.info("Telegram: commands are polled by herald serve or herald telegram")
        return None
    from bot.telegram.setup import build_telegram

    return build_telegram(settings, database, changed=wake, processes=commands)


def run(settings: Settings, process: str) -> int:
    """Run `serve` (everything), `web`, `worker` or `telegram` until stopped."""
    if process == "telegram":
        _can_poll(settings)
    count = web_processes(settings, process)
    if process in ("serve", "web"):
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    listener = listen(settings) if process in ("serve", "web") else None
    try:
        database = open_database(settings, migrate=process == "serve", create=True)
        log.info("herald %s on %s", process, redacted_url(settings))
        for part in settings.disabled_parts():
            log.info(part)
        if settings.slack_bot_token is not None:
            from bot.slack.setup import ensure_incident_channel

            ensure_incident_channel(settings, database)
        if settings.telegram_bot_token is not None:
            from bot.telegram.setup import ensure_incident_chat

            ensure_incident_chat(settings, database)
        if count > 1:
            from bot.web_processes import fork_web_processes

            log.info("herald web: %d processes on port %d (WEB_CONCURRENCY)", count, settings.port)
            # No pooled connection may cross a fork: each process opens its own.
            database.dispose()
            exit_code = fork_web_processes(count)
            if exit_code is not None:  # the parent, once every child has stopped
                return exit_code
        try:
            asyncio.run(_main(settings, database, process, listener))
        finally:
            database.dispose()
    finally:
        if listener is not None:
            listener.close()
    return 0


def web_processes(settings: Settings, process: str) -> int:
    """How many processes serve the web app: WEB_CONCURRENCY for `herald web`, which needs
    PostgreSQL for more than one; always one for `herald serve`, which runs the worker too."""
    wanted = settings.web_concurrency
    if process != "web" or wanted == 1:
        if process == "serve" and wanted > 1:
            log.info(
                "WEB_CONCURRENCY=%d is read by herald web; herald serve runs in one process",
                wanted,
            )
        return 1
    if settings.is_sqlite:
        raise Refused(
            f"WEB_CONCURRENCY={wanted} needs PostgreSQL: several web processes cannot share "
            "a SQLite file; set DATABASE_URL to PostgreSQL, or WEB_CONCURRENCY=1"
        )
    return wanted


def _can_poll(settings: Settings) -> None:
    """`herald telegram` polls; refuse it when there is nothing for it to do."""
    if settings.telegram_bot_token is None:
        raise Refused("herald telegram needs TELEGRAM_BOT_TOKEN; set it in the environment or .env")
    if settings.telegram_webhook:
        raise Refused(
            "TELEGRAM_WEBHOOK_SECRET is set, so Telegram sends updates to the web processes: "
            "run herald web, or unset it to poll with herald telegram"
        )
