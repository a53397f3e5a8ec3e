"""The `herald` command: process types (serve, web, worker, db, demo), digest, every chat verb."""

from __future__ import annotations

import argparse
import gc
import io
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from commands.errors import HeraldError, Refused, UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import ValidationError

    from bot.database import Database
    from bot.settings import Settings
    from commands.context import Context
    from storage.models import Channel

log = logging.getLogger("herald")

PROCESSES = ("serve", "web", "worker", "telegram", "db", "demo")
DIGEST = "digest"
DIGEST_USAGE = "herald digest [--week 2025-W05] [--chart FILE.png] [--send]"
SUBSCRIBERS = "subscribers"
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def _say(text: str) -> None:
    print(text)


def _flush_stdout() -> None:
    if sys.stdout is not None:  # None when started with stdout closed (`herald open X >&-`)
        sys.stdout.flush()


def _complain(text: str) -> None:
    print(f"herald: {text}", file=sys.stderr)


def configure_logging(settings: Settings, *, quiet: bool = False) -> None:
    """One line per event on stderr, every secret redacted; chat verbs log only warnings."""
    from bot.logs import configure_logging as configure

    configure(settings.log_level, settings.secrets(), quiet=quiet)


def _settings() -> Settings:
    from bot.settings import Settings

    return Settings()


def _settings_error(error: ValidationError) -> str:
    first = error.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "settings"
    reason = first["msg"].removeprefix("Value error, ")
    return f"setting {name}: {reason}. Fix it in the environment or .env."


def _usage() -> str:
    from commands.help import overview

    return (
        "usage: herald serve | web | worker | telegram | db upgrade | demo | VERB …\n"
        "  serve        run everything in one process (web app, worker, scheduler, Telegram)\n"
        "  web          run the web app only          worker   run the worker only\n"
        "  telegram     read Telegram commands by polling (one process; others wait)\n"
        "  db upgrade   migrate the database          demo     load the sample incidents\n"
        "  digest [--week 2025-W05] [--chart FILE.png] [--send]\n"
        "               print a week's digest and write its chart; --send posts it now\n"
        "  subscribers list | export | remove ADDRESS [--platform NAME]\n"
        "               the people who subscribed themselves (CSV with export)\n\n" + overview()
    )


def run_chat_verb(argv: Sequence[str], settings: Settings) -> int:
    """Parse and run one chat verb, printing the reply."""
    from bot.database import open_database
    from commands.dispatch import execute
    from commands.help import show_help
    from commands.parser import Clock, parse_argv
    from commands.verbs import Help
    from storage.models import utcnow

    command = parse_argv(argv, clock=Clock(settings.zone, utcnow()))
    if isinstance(command, Help):
        _say(show_help(command, _no_database(settings)).text)
        return EXIT_OK
    database = open_database(settings)
    try:
        reply = execute(command, _operator_context(settings, database, probe=_probe(settings)))
    finally:
        database.dispose()
    return _print_reply(reply.text, saved=reply.changed)


def _operator_context(
    settings: Settings, database: Database, probe: Callable[[Channel], str] | None = None
) -> Context:
    """The context of a command typed by whoever runs the CLI."""
    import getpass

    from commands.context import Actor, Context

    return Context(
        sessions=database.sessions,
        zone=settings.zone,
        locale=settings.locale,
        actor=Actor(getpass.getuser(), "cli"),
        grant_hint="the CLI is for operators with access to the database",
        probe=probe,
        remind_before=settings.maintenance_reminder,
    )


def _print_reply(text: str, *, saved: bool) -> int:
    """Print a chat verb's reply; once its change is saved, a failed print is no failure."""
    try:
        _say(text)
        _flush_stdout()  # a closed pipe shows here, while we still know what was saved
    except OSError as error:
        _stdout_to_devnull()
        if not isinstance(error, BrokenPipeError):
            done = "the change was saved, but " if saved else ""
            _complain(f"{done}the reply could not be printed ({error.strerror or error})")
        # Exit 0 when the change was saved: the command did what it was asked, and a
        # script that retries on failure would otherwise open or post it twice.
        return EXIT_OK if saved else EXIT_REFUSED
    return EXIT_OK


def _no_database(settings: Settings) -> Context:
    from sqlalchemy.orm import sessionmaker
    from sqlmodel import Session

    from commands.context import Actor, Context

    # Help reads no data, and must work before there is a database to read.
    return Context(
        sessions=sessionmaker(class_=Session),
        zone=settings.zone,
        locale=settings.locale,
        actor=Actor("help", "cli"),
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"takes a port number from 1 to 65535, not {text!r}")
    return port


class _Arguments(argparse.ArgumentParser):
    """argparse that refuses in one line, like every other Herald refusal."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}. Type `herald --help` for the process commands.")


def _probe(settings: Settings) -> Callable[[Channel], str]:
    def probe(channel: Channel) -> str:
        from bot.delivery.probe import probe_for

        return probe_for(settings)(channel)

    return probe


def run_process(argv: Sequence[str], settings: Settings) -> int:
    """Run one of the long-lived process types, or a maintenance task."""
    parser = _Arguments(prog="herald")
    sub = parser.add_subparsers(dest="process", required=True)
    for name in ("serve", "web"):
        one = sub.add_parser(name)
        one.add_argument("--host", default=None)
        one.add_argument("--port", type=_port, default=None)
    sub.add_parser("worker")
    sub.add_parser("telegram")
    db = sub.add_parser("db")
    db.add_argument("action", choices=["upgrade", "current"])
    sub.add_parser("demo")
    args = parser.parse_args(list(argv))
    gc.enable()
    if getattr(args, "host", None):
        settings = settings.model_copy(update={"host": args.host})
    if getattr(args, "port", None) is not None:
        settings = settings.model_copy(update={"port": args.port})

    from bot import processes

    if args.process == "db":
        return processes.db(settings, args.action, _say)
    if args.process == "demo":
        return processes.demo(settings, _say)
    return processes.run(settings, args.process)


class _DigestArguments(argparse.ArgumentParser):
    """argparse for `herald digest`, refusing in one line that shows what to type."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; type {DIGEST_USAGE}.")


def _chart_file(typed: str) -> str:
    """--chart's value: a file to write, never standard output (`-`) or nothing."""
    if typed.strip() in ("", "-"):
        # A PNG on a terminal is garbage and an empty name would be `.`: refuse both.
        shown = "an empty name" if not typed.strip() else "'-'"
        raise argparse.ArgumentTypeError(f"give a file name ending in .png, not {shown}")
    return typed


def _write_chart(path: Path, png: bytes) -> None:
    """Write the chart, over last run's file for the same week; refused in one line."""
    try:
        path.write_bytes(png)
    except OSError as error:
        raise Refused(
            f"could not write the chart to {path} ({error.strerror or error}); "
            "give another file with --chart"
        ) from None


def run_digest(argv: Sequence[str], settings: Settings) -> int:
    """Print a week's digest, write its chart to a file, and with --send post both now."""
    from pathlib import Path

    from bot.database import open_database
    from bot.digest.chart import HEIGHT_PX, WIDTH_PX, chart_filename, render_chart
    from commands.digest import build_digest, digest_text, digest_title, parse_week

    parser = _DigestArguments(prog="herald digest", usage=DIGEST_USAGE)
    parser.add_argument("--week", type=parse_week, help="an ISO week; default the last one")
    parser.add_argument("--chart", type=_chart_file, help="where to write the PNG")
    parser.add_argument("--send", action="store_true", help="post it to the digest channels")
    args = parser.parse_args(list(argv))
    if args.send:
        from bot.digest.post import check_destinations

        # Before any work: a digest built and printed, then refused, reads as half-sent.
        check_destinations(settings)
    database = open_database(settings)
    try:
        ctx = _operator_context(settings, database)
        digest = build_digest(ctx, args.week, settings.public_url, settings.site_name)
    finally:
        database.dispose()
    text = digest_text(digest)
    # The digest first: a chart that cannot be written still leaves the figures on screen.
    _say(text)
    png = render_chart(digest)
    path = Path(args.chart or chart_filename(digest))
    _write_chart(path, png)
    _say(f"Chart: {path} ({WIDTH_PX}×{HEIGHT_PX} PNG)")
    if args.send:
        import asyncio

        from bot.digest.post import post_digest

        posted = post_digest(settings, digest_title(digest), text, png, path.name)
        for line in asyncio.run(posted):
            _say(line)
    return EXIT_OK


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"herald {version('herald')}"
    except PackageNotFoundError:
        return "herald (version unknown: not installed as a package)"


def _not_utf8(args: Sequence[str]) -> str | None:
    """The first argument that is not UTF-8 (Python keeps its bytes as surrogates), shown."""
    for arg in args:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape")
            return raw.decode("utf-8", "backslashreplace")
    return None


def _stdout_to_devnull() -> None:
    # The reader went away (`herald list | head -1`): what is left to print, including
    # the flush at exit, goes nowhere instead of raising BrokenPipeError again.
    if sys.stdout is None:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `herald` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    # A chat verb is a short-lived process: collecting garbage, during imports and
    # again at exit, costs a third of its run time. Process types turn it back on.
    was_enabled = gc.isenabled()
    gc.disable()
    if isinstance(sys.stdout, io.TextIOWrapper):
        # A reply in a language the terminal's encoding cannot show (PYTHONIOENCODING=ascii)
        # is printed with escapes rather than failing after its change was saved.
        sys.stdout.reconfigure(errors="backslashreplace")
    try:
        code = _answer(args)
        _flush_stdout()
        return code
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_REFUSED
    finally:
        gc.freeze()  # the final collection at exit then skips everything alive now
        if was_enabled:
            gc.enable()


def _answer(args: list[str]) -> int:
    if not args or args[0] in ("-h", "--help"):
        _say(_usage())
        return EXIT_OK if args else EXIT_USAGE
    if args[0] == "--version":
        _say(_version())
        return EXIT_OK
    garbled = _not_utf8(args)
    if garbled is not None:
        _complain(
            f"arguments must be UTF-8, and '{garbled}' is not; "
            "retype it, or set a UTF-8 locale such as LANG=C.UTF-8."
        )
        return EXIT_USAGE
    return _main(args)


def _main(args: list[str]) -> int:
    import sqlalchemy.exc
    from pydantic import ValidationError

    try:
        settings = _settings()
    except ValidationError as error:
        _complain(_settings_error(error))
        return EXIT_USAGE
    except UnicodeDecodeError:  # environment variables are always str; only .env is decoded
        _complain(".env is not UTF-8; save it as UTF-8.")
        return EXIT_USAGE
    configure_logging(settings, quiet=args[0] not in PROCESSES)
    try:
        if args[0] in PROCESSES:
            return run_process(args, settings)
        if args[0] == DIGEST:
            return run_digest(args[1:], settings)
        if args[0] == SUBSCRIBERS:
            from bot.cli_subscribers import run_subscribers

            return run_subscribers(args[1:], settings, _operator_context, _say)
        return run_chat_verb(args, settings)
    except HeraldError as error:
        return _refuse(error)
    except sqlalchemy.exc.OperationalError as error:
        from bot.database import unreachable

        _complain(unreachable(settings, error))
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        raise
    except Exception as error:
        return _refuse(error)


def _refuse(error: Exception) -> int:
    """A refusal on one line of stderr, through the same handler as every chat front-end."""
    from bot.frontend.answers import refusal_of

    refusal = refusal_of(error, changing=False, front_end="the CLI")
    _complain(refusal.text[:1].lower() + refusal.text[1:] if refusal.error_id else refusal.text)
    return refusal.exit_code
