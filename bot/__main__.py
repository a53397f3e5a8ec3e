"""`python -m bot` is the `herald` command."""

from bot.cli import main

raise SystemExit(main())
