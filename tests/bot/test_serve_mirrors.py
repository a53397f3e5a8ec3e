"""`herald serve` with a Telegram token mirrors open/update/resolve from the CLI to Telegram."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bot.test_serve import free_port, run_herald
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.slow
TOKEN = "123456:TEST-TOKEN"


def test_serve_mirrors_cli_changes_to_telegram(tmp_path: Path) -> None:
    with FakeTelegram(token=TOKEN) as telegram:
        telegram.add_chat(-1001234567890, "channel")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "TELEGRAM_", "DATABASE_URL"))
        }
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=telegram.api_url, PORT=str(free_port())
        )

        def herald(*args: str) -> str:
            done = run_herald(tmp_path, env, *args)
            assert done.returncode == 0, done.stderr
            return done.stdout

        herald("db", "upgrade")
        herald("channels", "add", "telegram", "-1001234567890", "--lang", "it")
        serve = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            cwd=tmp_path,
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            herald("open", "Problemi consegna posta", "--sev", "2")
            herald("update", "INC-1", "--status", "identified", "Il nodo è stato escluso")
            herald("resolve", "INC-1", "Tutti i sistemi sono tornati pienamente operativi")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                messages = telegram.messages(-1001234567890)
                if len(messages) == 3 and messages[0].plain.endswith("Stato: Risolto"):
                    break
                time.sleep(0.1)
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=30)
        root, update, closing = telegram.messages(-1001234567890)
        assert root.plain.startswith("Apertura: Problemi consegna posta (risolto)")
        assert update.plain.startswith("Aggiornamento: problemi consegna posta")
        assert closing.plain.startswith("Chiusura: problemi consegna posta")
        assert (update.reply_to, closing.reply_to) == (root.message_id, root.message_id)
        shown = herald("show", "INC-1")
        assert shown.count("→ #1 telegram -1001234567890: delivered") == 3
        assert "status on the first message: delivered" in shown
