"""`herald subscribers list | export | remove ADDRESS`: the people who subscribed
themselves, for operators at a terminal only (chat shows them as counts)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from commands.errors import UsageError

if TYPE_CHECKING:
    from bot.database import Database
    from bot.settings import Settings
    from commands.context import Context

USAGE = "herald subscribers list | export | remove ADDRESS [--platform telegram|email]"


class _Arguments(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; type {USAGE}.")


def _platform(typed: str) -> str:
    from storage.platforms import PLATFORMS

    names = {p.value: p.value for p in PLATFORMS} | {"e-mail": "email"}
    if typed.lower() not in names:
        raise argparse.ArgumentTypeError(f"choose one of {', '.join(p.value for p in PLATFORMS)}")
    return names[typed.lower()]


def run_subscribers(
    argv: Sequence[str],
    settings: Settings,
    context: Callable[[Settings, Database], Context],
    say: Callable[[str], None],
) -> int:
    """List, export as CSV, or delete the subscribers."""
    from bot.database import open_database
    from commands.subscriber_admin import export_subscribers, list_subscribers, remove_subscriber
    from storage.models import Platform

    parser = _Arguments(prog="herald subscribers", usage=USAGE)
    parser.add_argument("action", choices=["list", "export", "remove"])
    parser.add_argument("address", nargs="?")
    parser.add_argument("--platform", type=_platform)
    args = parser.parse_args(list(argv))
    if (args.action == "remove") != bool(args.address):
        raise UsageError(
            "name the address to remove: herald subscribers remove 123456789"
            if args.action == "remove"
            else f"{args.action} takes no address; type {USAGE}."
        )
    platform = Platform(args.platform) if args.platform else None
    database = open_database(settings)
    try:
        ctx = context(settings, database)
        if args.action == "list":
            say(list_subscribers(ctx, platform).text)
        elif args.action == "export":
            say(export_subscribers(ctx, platform).rstrip("\n"))
        else:
            say(remove_subscriber(ctx, args.address, platform).text)
    finally:
        database.dispose()
    return 0
