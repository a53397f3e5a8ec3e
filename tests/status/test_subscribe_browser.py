"""The e-mail subscription in a real browser, without JavaScript: `herald web` with e-mail
on, Debian's chromium driven by Playwright, the mails caught by the SMTP server here."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.smtp import MailServer
from tests.status.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port, herald_web, site_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: apt-get install chromium"),
]


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with MailServer() as server:
        yield server


@pytest.fixture
def site(tmp_path: Path, mail: MailServer) -> Iterator[str]:
    """`herald web` on a new SQLite file with two components and e-mail on."""
    port = free_port()
    env = site_env(
        tmp_path,
        f"http://127.0.0.1:{port}",
        SMTP_URL=mail.url,
        MAIL_FROM="stato@isp.example",
    )
    for command in (
        ["db", "upgrade"],
        ["components", "add", "posta", "Posta"],
        ["components", "add", "web", "Web"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "bot", *command], cwd=tmp_path, env=env, capture_output=True
        )
        assert done.returncode == 0, done.stderr
    with herald_web(tmp_path, port, env) as base:
        yield base


def _link(mail: MailServer, path: str) -> str:
    found = re.search(rf"https?://[^\s]+{path}\?t=[\w.\-%]+", mail.arrived[-1].part("plain"))
    assert found is not None
    return found[0]


def test_subscribe_confirm_change_and_leave_in_a_browser(site: str, mail: MailServer) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(java_script_enabled=False, locale="en-GB").new_page()
            page.goto(f"{site}/")
            page.get_by_role("link", name="Get updates by e-mail").click()
            page.wait_for_url("**/subscribe?lang=en")

            # An address the browser lets through and Herald does not: its error is told
            # beside the field, tied to it, and in a summary that links to it.
            page.get_by_label("E-mail address").fill("cliente@posta")
            page.get_by_role("button", name="Subscribe").click()
            field = page.get_by_label("E-mail address")
            assert field.get_attribute("aria-invalid") == "true"
            described = field.get_attribute("aria-describedby")
            assert described == "address-error"
            error = page.locator(f"#{described}").inner_text()
            assert error == "Write a valid e-mail address, like name@example.com."
            assert page.get_by_role("alert").get_by_role("link", name=error).count() == 1
            assert field.input_value() == "cliente@posta"
            assert mail.arrived == []

            field.fill("cliente@posta.example")
            page.get_by_label("Posta").check()
            page.get_by_role("button", name="Subscribe").click()
            notice = page.get_by_role("status").inner_text()
            assert notice.startswith("If the address can be subscribed")

            page.goto(_link(mail, "/subscribe/confirm"))
            page.get_by_role("button", name="Confirm").click()
            assert page.get_by_role("status").inner_text() == "Subscription confirmed."
            page.get_by_role("link", name="Your subscription").click()
            assert page.get_by_label("Posta").is_checked()
            assert not page.get_by_label("Web").is_checked()
            page.get_by_label("Web").check()
            page.get_by_label("Language of the updates").select_option("it")
            page.get_by_role("button", name="Save").click()  # the answer in the new language
            assert page.get_by_role("status").inner_text() == "Scelte salvate."
            assert page.get_by_label("Web").is_checked()
            page.get_by_role("button", name="Cancellami").click()
            assert page.get_by_role("status").inner_text().startswith("Iscrizione cancellata")
        finally:
            browser.close()
