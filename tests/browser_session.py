"""Headless Chromium for the site tests: Debian's ``chromium`` driven by Playwright, the built site served by
``nlmg-media serve``'s own server on loopback, and axe-core (from npm) for the accessibility audit.

``scripts/test.sh`` installs what a fresh machine lacks (the ``chromium`` package, axe-core into
``.cache/npm``); Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.publishing.serve import make_server

ROOT = Path(__file__).resolve().parent.parent
AXE_PATHS = (
    Path(os.environ["NLMG_AXE"]) if os.environ.get("NLMG_AXE") else None,
    ROOT / ".cache" / "npm" / "node_modules" / "axe-core" / "axe.min.js",
)
# As root in a container: no sandbox; nothing may reach the network (no QUIC, sync, updates, field trials).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]


def chromium_path() -> str:
    found = os.environ.get("NLMG_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("chromium is not installed: run ./scripts/test.sh (it installs Debian's chromium)")
    return found


def axe_source() -> str:
    for path in AXE_PATHS:
        if path and path.is_file():
            return path.read_text("utf-8")
    raise RuntimeError("axe-core is not installed: run ./scripts/test.sh (npm install --prefix .cache/npm axe-core)")


@contextmanager
def serving(site: Path) -> Iterator[str]:
    """The site on a free loopback port for the duration of the block; yields its base URL."""
    server = make_server(site, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class PageLog:
    """Console errors and uncaught exceptions of one page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))


def axe_violations(page: Any, source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    page.add_script_tag(content=source)
    found = page.evaluate(
        """() => axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({
             id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]
