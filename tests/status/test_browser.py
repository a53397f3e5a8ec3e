"""A real browser on `herald web` with the demo data: Debian's chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no {CHROMIUM}: install Debian's chromium (apt-get install chromium)",
    ),
]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def site_env(tmp_path: Path, base: str, **settings: str) -> dict[str, str]:
    """The environment of a `herald` run on a new SQLite file in tmp_path, served at `base`."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'herald.db'}",
        "PUBLIC_URL": base,
        "SITE_NAME": "Stato dei servizi",
        "LOG_LEVEL": "WARNING",
        **settings,
    }


@contextlib.contextmanager
def herald_web(tmp_path: Path, port: int, env: dict[str, str]) -> Iterator[str]:
    """`herald web` on `port` until it is healthy; yields its base URL, and at the end
    checks that its log holds no traceback."""
    base = f"http://127.0.0.1:{port}"
    web = subprocess.Popen(
        [sys.executable, "-m", "bot", "web", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Polls a real subprocess starting up; there is no clock to fake here.
        deadline = time.monotonic() + 20
        while True:
            assert web.poll() is None, "herald web exited early"
            assert time.monotonic() < deadline, "herald web did not become healthy"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        web.terminate()
        _, log = web.communicate(timeout=20)
        assert "Traceback" not in log


@pytest.fixture
def demo_site(tmp_path: Path) -> Iterator[str]:
    """`herald demo` into a new SQLite file, then `herald web` on it; yields its base URL."""
    port = free_port()
    env = site_env(tmp_path, f"http://127.0.0.1:{port}")
    demo = subprocess.run(
        [sys.executable, "-m", "bot", "demo"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert demo.returncode == 0, demo.stderr
    with herald_web(tmp_path, port, env) as base:
        yield base


def test_demo_status_page_in_a_browser(demo_site: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # No JavaScript at all: the page must not need it.
            context = browser.new_context(java_script_enabled=False, locale="it-IT")
            page = context.new_page()
            page.goto(f"{demo_site}/")
            assert page.locator("html").get_attribute("lang") == "it"
            assert page.title() == "Stato dei servizi: Tutti i sistemi sono operativi"
            banner = page.locator("#banner-title")
            assert banner.inner_text().endswith("Tutti i sistemi sono operativi")
            assert page.locator("header").count() == 1
            assert page.locator("main").count() == 1
            assert page.locator("footer").count() == 1
            assert page.locator("h1").count() == 1

            components = page.locator("ul.components > li")
            assert components.locator("h3").all_inner_texts() == ["Posta", "Web", "DNS"]
            for state in components.locator(".state").all_inner_texts():
                assert state.endswith("Operativo")
            assert components.first.locator("svg.bars rect").count() == 90
            tooltip = components.first.locator("svg.bars rect title").last.text_content() or ""
            assert tooltip.endswith(": Nessun disservizio")

            finished = page.locator("#recent-maintenance li").all_inner_texts()
            assert [line.split(" · ")[0] for line in finished] == [
                "Crittografia delle mail in ingresso (conclusa)",
                "Aggiornamento server di posta (conclusa)",
            ]
            assert "In data 22/05/2021 dalle ore 10:00 alle ore 12:00" in finished[1]
            page.screenshot(path=str(tmp_path / "status-page.png"), full_page=True)

            page.get_by_role("link", name="Guasto sistema risoluzione interno (risolto)").click()
            page.wait_for_url("**/incidents/INC-5")
            assert page.locator("h1").inner_text() == "Guasto sistema risoluzione interno (risolto)"
            entries = page.locator("ol.timeline > li")
            assert entries.count() == 2
            assert entries.nth(0).locator(".entry-head").inner_text() == (
                "Chiusura · 28/01/2025 ore 16:30"
            )
            assert entries.nth(1).locator(".entry-head").inner_text() == (
                "Apertura · 28/01/2025 ore 14:50"
            )
            assert "datacenter di Milano" in entries.nth(1).inner_text()
            page.screenshot(path=str(tmp_path / "incident-page.png"), full_page=True)

            # A phone-sized screen: nothing wider than the viewport.
            phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="en-US")
            small = phone.new_page()
            small.goto(f"{demo_site}/")
            assert small.locator("#banner-title").inner_text().endswith("All systems operational")
            assert small.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            small.screenshot(path=str(tmp_path / "status-page-phone.png"), full_page=True)
        finally:
            browser.close()
    for name in ("status-page.png", "incident-page.png", "status-page-phone.png"):
        assert (tmp_path / name).stat().st_size > 10_000
