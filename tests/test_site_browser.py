"""The site in a real browser: headless Chromium (Debian's package, driven by Playwright) against ``serve``.

What a listener does — open the show and an episode page on a desktop and a 390×844 phone, in light and dark
mode; play, skip, click a chapter, follow a ``#t=`` link, read along — checked from outside: console errors,
axe-core's serious/critical violations, the audio element's own ``currentTime``, the word marked
``aria-current`` in the transcript against the timeline's intervals, layout boxes for overflow and tap targets.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from browser_session import PageLog, axe_source, axe_violations, browser, serving
from support import make_render, write_playlist

from pipeline.publishing import site

pytestmark = pytest.mark.media

SLUG = "never-let-me-go"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory, ffmpeg_exe: str) -> Iterator[str]:
    base = tmp_path_factory.mktemp("browser")
    render = make_render(base / "output" / SLUG, ffmpeg_exe, video=True, seconds=12.0)
    playlist = write_playlist(base / "output" / "videos")
    settings = site.SiteSettings(
        base_url="http://127.0.0.1:8000", title="Book Notes", author="Ann Reader", email="ann@example.org",
        videos=playlist,
    )  # fmt: skip
    site.build_site([render], base / "site", settings, now=datetime(2026, 1, 5, tzinfo=UTC))
    with serving(base / "site") as url:
        yield url


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as instance:
        yield instance


@pytest.fixture(scope="module")
def words(tmp_path_factory: pytest.TempPathFactory, site_url: str) -> list[dict[str, Any]]:
    import urllib.request

    with urllib.request.urlopen(f"{site_url}episodes/{SLUG}/timeline.json") as response:
        return json.loads(response.read())["words"]


def open_page(chromium: Any, url: str, **context: Any) -> tuple[Any, PageLog]:
    page = chromium.new_context(**context).new_page()
    log = PageLog(page)
    page.goto(url)
    page.wait_for_function("document.querySelector('[data-player]') && "
                           "document.querySelector('[data-player]').classList.contains('ready')")  # fmt: skip
    return page, log


def current_time(page: Any) -> float:
    return float(page.evaluate("document.querySelector('audio').currentTime"))


def set_time(page: Any, seconds: float) -> None:
    page.evaluate(f"() => {{ const a = document.querySelector('audio'); a.pause(); a.currentTime = {seconds}; }}")
    page.wait_for_function(f"Math.abs(document.querySelector('audio').currentTime - {seconds}) < 0.01")


def wait_for_mark_at(page: Any, t: float) -> None:
    """Wait until the word marked aria-current is one whose [start, end) contains ``t``."""
    page.wait_for_function(
        """t => { const w = document.querySelector('[data-transcript] [aria-current]');
                  return w !== null && +w.dataset.s <= t && t < +w.dataset.e; }""",
        arg=t,
    )


def marked_word(page: Any) -> dict[str, Any] | None:
    return page.evaluate(
        """() => { const w = document.querySelector('[data-transcript] [aria-current]');
                   return w ? {text: w.textContent, s: +w.dataset.s, e: +w.dataset.e} : null; }"""
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["", f"episodes/{SLUG}/"])
def test_pages_have_no_console_errors_and_no_serious_accessibility_violations(
    chromium: Any, site_url: str, path: str, scheme: str
) -> None:
    page, log = open_page(chromium, site_url + path, viewport=DESKTOP, color_scheme=scheme)
    page.wait_for_load_state("networkidle")
    assert axe_violations(page, axe_source()) == []
    assert log.errors == []


def test_a_chapter_click_seeks_and_marks_the_chapter(chromium: Any, site_url: str) -> None:
    page, log = open_page(chromium, f"{site_url}episodes/{SLUG}/", viewport=DESKTOP)
    second = page.locator("[data-chapter-list] button").nth(1)
    start = float(second.get_attribute("data-start") or "nan")
    second.click()
    page.wait_for_function(f"document.querySelector('audio').currentTime >= {start}")
    assert start <= current_time(page) < start + 2
    assert second.get_attribute("aria-current") == "true"
    assert "Chapter 2 of 2" in page.locator("[data-chapter-now]").inner_text()
    assert log.errors == []


@pytest.mark.parametrize(("fragment", "seconds"), [("#t=0:07", 7.0), ("#t=5", 5.0), ("#t=0:01:03", None)])
def test_a_time_link_starts_the_player_there(
    chromium: Any, site_url: str, fragment: str, seconds: float | None
) -> None:
    # 1:03 is past the 12 s episode: the player clamps to its end (the page's duration, or the MP3's own, a few
    # tens of milliseconds longer, when the browser has read it before the link is followed).
    page, log = open_page(chromium, f"{site_url}episodes/{SLUG}/{fragment}", viewport=DESKTOP)
    page.wait_for_function("document.querySelector('audio').readyState >= 1")
    page.wait_for_timeout(200)
    if seconds is None:
        seconds = float(page.evaluate("document.querySelector('audio').duration"))
        assert abs(current_time(page) - seconds) < 0.1
    else:
        assert abs(current_time(page) - seconds) < 1.01
    assert log.errors == []


def test_the_marked_word_is_the_one_being_spoken(chromium: Any, site_url: str, words: list[dict[str, Any]]) -> None:
    page, log = open_page(chromium, f"{site_url}episodes/{SLUG}/", viewport=DESKTOP)
    page.wait_for_function("document.querySelector('audio').readyState >= 1")
    for word in words:
        for t in (word["start"] + 0.001, (word["start"] + word["end"]) / 2, word["end"] - 0.001):
            set_time(page, t)
            wait_for_mark_at(page, t)
            marked = marked_word(page)
            assert marked is not None and marked["text"] == word["text"], (t, marked, word)
    gaps = [(a["end"], b["start"]) for a, b in zip(words, words[1:], strict=False) if b["start"] - a["end"] > 0.05]
    assert gaps, "the fixture has pauses between sentences"
    set_time(page, sum(gaps[0]) / 2)
    page.wait_for_function("!document.querySelector('[data-transcript] [aria-current]')")
    assert log.errors == []


def test_the_transcript_scrolls_to_the_word_being_spoken(
    chromium: Any, site_url: str, words: list[dict[str, Any]]
) -> None:
    page, log = open_page(chromium, f"{site_url}episodes/{SLUG}/", viewport={"width": 1280, "height": 500})
    page.evaluate("document.querySelector('[data-transcript]').style.maxHeight = '6rem'")  # force scrolling
    last = words[-1]
    set_time(page, (last["start"] + last["end"]) / 2)
    inside = """() => { const box = document.querySelector('[data-transcript]').getBoundingClientRect();
                        const w = document.querySelector('[data-transcript] [aria-current]');
                        if (!w) return false; const r = w.getBoundingClientRect();
                        return r.top >= box.top && r.bottom <= box.bottom; }"""
    page.wait_for_function(inside)
    assert page.evaluate("document.querySelector('[data-transcript]').scrollTop") > 0
    page.locator("[data-follow]").uncheck()
    set_time(page, words[0]["start"] + 0.01)
    page.wait_for_timeout(600)
    assert not page.evaluate(inside)  # following switched off: the box stays where it was
    assert log.errors == []


def test_a_click_on_a_word_plays_from_there_and_the_mark_follows(
    chromium: Any, site_url: str, words: list[dict[str, Any]]
) -> None:
    page, log = open_page(chromium, f"{site_url}episodes/{SLUG}/", viewport=DESKTOP)
    target = words[len(words) // 2]
    page.locator(f"[data-transcript] [data-s='{target['start']:.3f}']").click()
    page.wait_for_function(f"document.querySelector('audio').currentTime >= {target['start']} && "
                           "!document.querySelector('audio').paused")  # fmt: skip
    page.evaluate("document.querySelector('audio').pause()")
    page.wait_for_timeout(100)
    t = current_time(page)
    spoken = [w for w in words if w["start"] <= t < w["end"]]
    marked = marked_word(page)
    assert (marked is None) == (not spoken), (t, marked)
    if spoken:
        assert marked is not None and marked["text"] == spoken[0]["text"]
    assert log.errors == []


def test_controls_skip_change_speed_and_share_the_current_time(chromium: Any, site_url: str) -> None:
    page, log = open_page(chromium, f"{site_url}episodes/{SLUG}/", viewport=DESKTOP)
    page.wait_for_function("document.querySelector('audio').readyState >= 1")
    page.get_by_role("button", name="Forward 30 s").click()
    assert current_time(page) == pytest.approx(12.0, abs=0.05)  # clamped to the episode's end
    set_time(page, 9.0)
    page.get_by_role("button", name="Back 15 s").click()
    assert current_time(page) == pytest.approx(0.0, abs=0.01)
    set_time(page, 4.4)
    page.get_by_role("button", name="Speed 1×").click()
    assert page.evaluate("document.querySelector('audio').playbackRate") == 1.25
    page.locator("[data-action=share]").click()
    page.wait_for_function("document.querySelector('[data-status]').textContent.includes('#t=0:04')")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function("!document.querySelector('audio').paused")
    page.get_by_role("button", name="Pause").click()
    page.wait_for_function("document.querySelector('audio').paused")
    assert log.errors == []


def test_the_player_is_reachable_and_usable_from_the_keyboard(chromium: Any, site_url: str) -> None:
    page, log = open_page(chromium, f"{site_url}episodes/{SLUG}/", viewport=DESKTOP)
    page.wait_for_function("document.querySelector('audio').readyState >= 1")
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("document.activeElement.dataset.action || document.activeElement.tagName"))
        if reached[-1] == "play":
            break
    assert reached[-1] == "play", reached
    page.keyboard.press("Enter")
    page.wait_for_function("!document.querySelector('audio').paused")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('audio').paused")
    page.locator("[data-chapter-list] button").nth(1).focus()
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('audio').currentTime >= 6")
    assert log.errors == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["", f"episodes/{SLUG}/"])
def test_phone_layout_fits_with_the_player_in_the_first_screen(
    chromium: Any, site_url: str, path: str, scheme: str
) -> None:
    page, log = open_page(
        chromium, site_url + path, viewport=PHONE, color_scheme=scheme, is_mobile=True, has_touch=True,
        device_scale_factor=2,
    )  # fmt: skip
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    player = page.locator("[data-player]").bounding_box()
    assert player is not None and player["y"] + player["height"] <= PHONE["height"]
    # Every control a thumb must hit: buttons, inputs (by their label when they have one), links outside running
    # text; off-screen skip links and the transcript's words (text, seek by clicking) are not controls.
    small = page.evaluate(
        """() => Array.from(document.querySelectorAll('button, input, select, summary, a'))
             .filter(e => !(e.tagName === 'A' && e.closest('p')) && !e.closest('[data-transcript]'))
             .map(e => { const box = (e.closest('label') || e).getBoundingClientRect();
                         return {html: e.outerHTML.slice(0, 60), w: box.width, h: box.height, right: box.right}; })
             .filter(b => b.right > 0 && (b.w < 44 || b.h < 44))"""
    )
    assert small == []
    assert axe_violations(page, axe_source()) == []
    assert log.errors == []


def test_a_real_render_is_followed_word_by_word(chromium: Any, short_render: dict, tmp_path: Path) -> None:
    """The real engine's timeline: every tenth word, at its midpoint, is the marked one."""
    settings = site.SiteSettings(base_url="http://127.0.0.1:8000", title="Short", email="a@example.org")
    site.build_site([short_render["out"]], tmp_path / "site", settings)
    timeline = json.loads((short_render["out"] / "timeline.json").read_text("utf-8"))["words"]
    slug = json.loads((short_render["out"] / "render.json").read_text("utf-8"))["slug"]
    with serving(tmp_path / "site") as url:
        page, log = open_page(chromium, f"{url}episodes/{slug}/", viewport=DESKTOP)
        page.wait_for_function("document.querySelector('audio').readyState >= 1")
        for word in timeline[::10]:
            middle = (word["start"] + word["end"]) / 2
            set_time(page, middle)
            wait_for_mark_at(page, middle)
            marked = marked_word(page)
            assert marked is not None and marked["text"] == word["text"]
        assert log.errors == []
