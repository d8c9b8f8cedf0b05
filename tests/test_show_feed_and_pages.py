"""Issue 14, outside the browser: the feed a listener's app reads (identity kept across a move, owner, people,
episode numbers, the video as an alternate enclosure, the synthetic-voice disclosure, the stylesheet) and the
pages' static contract (one page per episode at the feed's <link>, preview tags, resized covers, curated
videos always a section, no command-line text for the public)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import podcastparser
import pytest
from lxml import etree
from PIL import Image
from support import FEED_BASE as BASE
from support import FEED_NAMESPACES as NS
from support import make_render, write_playlist
from support import site_settings as settings

from pipeline.publishing import feed, site

MOVED = "https://cdn.example.net/books"
T1 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
T2 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
SLUG = "never-let-me-go"


def channel_of(site_dir: Path) -> etree._Element:
    return etree.parse(str(site_dir / "feed.xml")).getroot().find("channel")


@pytest.fixture
def one_render(tmp_path: Path, ffmpeg_exe: str) -> Path:
    return make_render(tmp_path / "output" / SLUG, ffmpeg_exe, video=True)


@pytest.fixture
def built(tmp_path: Path, one_render: Path) -> Path:
    site_dir = tmp_path / "site"
    site.build_site([one_render], site_dir, settings(), now=T1)
    return site_dir


# ------------------------------------------------------------------------------------------------ the feed


def test_a_move_to_another_base_url_keeps_every_guid_and_says_so(
    tmp_path: Path, ffmpeg_exe: str, one_render: Path
) -> None:
    site_dir = tmp_path / "site"
    site.build_site([one_render], site_dir, settings(), now=T1)
    before = channel_of(site_dir)
    guid = before.findtext("podcast:guid", namespaces=NS)
    item_guid = before.find("item").findtext("guid")

    second = make_render(tmp_path / "output" / "the-remains", ffmpeg_exe, title="The Remains of the Day")
    report = site.build_site([one_render, second], site_dir, settings(base_url=MOVED), now=T2)
    after = channel_of(site_dir)
    assert after.find("atom:link[@rel='self']", NS).get("href") == f"{MOVED}/feed.xml"
    assert after.findtext("podcast:guid", namespaces=NS) == guid  # the show's identity survives the move
    items = {i.findtext("title"): i for i in after.findall("item")}
    assert items["Never Let Me Go by Kazuo Ishiguro"].findtext("guid") == item_guid
    assert [w for w in report.warnings if "moved" in w] == [
        f"the feed moved from {BASE}/feed.xml to {MOVED}/feed.xml: the show keeps its podcast:guid {guid} and "
        "every episode its GUID; redirect the old address (HTTP 301) so apps follow the move"
    ]
    again = site.build_site([one_render, second], site_dir, settings(base_url=MOVED), now=T2)
    assert not [w for w in again.warnings if "moved" in w]


def test_owner_people_numbers_medium_and_the_synthetic_voice(built: Path) -> None:
    channel = channel_of(built)
    assert channel.findtext("itunes:owner/itunes:name", namespaces=NS) == "Ann Reader"
    assert channel.findtext("itunes:owner/itunes:email", namespaces=NS) == "ann@example.org"
    assert channel.findtext("itunes:author", namespaces=NS) == "Ann Reader"
    locked = channel.find("podcast:locked", NS)
    assert (locked.text, locked.get("owner")) == ("yes", "ann@example.org")
    assert channel.findtext("podcast:medium", namespaces=NS) == "podcast"
    people = [(p.text, p.get("role"), p.get("group")) for p in channel.findall("podcast:person", NS)]
    assert people == [("Ann Reader", "writer", "writing")]
    assert channel.find("podcast:txt[@purpose='ai-content']", NS).text == "true"
    (item,) = channel.findall("item")
    assert item.findtext("itunes:episodeType", namespaces=NS) == "full"
    assert item.findtext("itunes:episode", namespaces=NS) == "1"
    assert item.findtext("podcast:episode", namespaces=NS) == "1"
    item_people = [(p.text, p.get("role"), p.get("group")) for p in item.findall("podcast:person", NS)]
    assert item_people == [("Ann Reader", "writer", "writing"), ("Kazuo Ishiguro", "author", "writing")]
    assert item.find("podcast:txt[@purpose='ai-content']", NS).text == "true"
    assert "Narrated by a synthetic voice (piper, en_US-joe-medium)." in item.findtext("description")


def test_the_video_is_an_alternate_enclosure(built: Path) -> None:
    (item,) = channel_of(built).findall("item")
    (video,) = item.findall("podcast:alternateEnclosure", NS)
    path = built / "episodes" / SLUG / f"{SLUG}.mp4"
    assert video.get("type") == "video/mp4"
    assert int(video.get("length")) == path.stat().st_size
    assert video.get("title") == "Captioned video" and len(video.get("title")) <= 32
    assert [s.get("uri") for s in video.findall("podcast:source", NS)] == [f"{BASE}/episodes/{SLUG}/{SLUG}.mp4"]


def test_without_an_owner_address_the_feed_is_not_locked(tmp_path: Path, one_render: Path) -> None:
    site_dir = tmp_path / "site"
    report = site.build_site([one_render], site_dir, settings(email=None), now=T1)
    assert any("no itunes:owner and no podcast:locked" in w for w in report.warnings)
    channel = channel_of(site_dir)
    assert channel.find("podcast:locked", NS) is None
    assert channel.find("itunes:owner", NS) is None


def test_episode_numbers_are_given_once_in_publish_order(tmp_path: Path, ffmpeg_exe: str, one_render: Path) -> None:
    site_dir = tmp_path / "site"
    site.build_site([one_render], site_dir, settings(), now=T1)
    second = make_render(tmp_path / "output" / "the-remains", ffmpeg_exe, title="The Remains of the Day")
    site.build_site([second, one_render], site_dir, settings(), now=T2)
    items = channel_of(site_dir).iter("item")
    numbers = {i.findtext("title"): i.findtext("itunes:episode", namespaces=NS) for i in items}
    assert numbers == {"Never Let Me Go by Kazuo Ishiguro": "1", "The Remains of the Day by Kazuo Ishiguro": "2"}


def test_feed_readers_still_read_everything(built: Path) -> None:
    parsed = feedparser.parse(str(built / "feed.xml"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    with open(built / "feed.xml", "rb") as stream:
        (episode,) = podcastparser.parse(f"{BASE}/feed.xml", stream)["episodes"]
    assert episode["link"] == f"{BASE}/episodes/{SLUG}/"
    assert episode["number"] == 1
    assert episode["transcript_url"] == f"{BASE}/episodes/{SLUG}/captions.vtt"
    assert [c["title"] for c in episode["chapters"]] == ["Hailsham", "After Never Let Me Go"]


def test_a_browser_opening_the_feed_gets_a_page_from_the_stylesheet(built: Path) -> None:
    text = (built / "feed.xml").read_bytes()
    assert text.splitlines()[1] == b'<?xml-stylesheet type="text/xsl" href="feed.xsl"?>'
    transform = etree.XSLT(etree.parse(str(built / feed.FEED_STYLESHEET)))
    page = str(transform(etree.parse(str(built / "feed.xml"))))
    assert "<h1>Book Notes</h1>" in page
    assert f'<a class="title" href="{BASE}/episodes/{SLUG}/">Never Let Me Go by Kazuo Ishiguro</a>' in page
    assert f"{BASE}/feed.xml" in page


# ----------------------------------------------------------------------------------------------- the pages


def test_each_episode_has_a_page_at_the_feeds_link(built: Path) -> None:
    (item,) = channel_of(built).findall("item")
    link = item.findtext("link")
    assert link == f"{BASE}/episodes/{SLUG}/"
    page = (built / link.removeprefix(BASE + "/") / "index.html").read_text("utf-8")
    assert f'<link rel="canonical" href="{link}">' in page
    assert '<meta property="og:title" content="Never Let Me Go by Kazuo Ishiguro — Book Notes">' in page
    assert f'<meta property="og:image" content="{BASE}/episodes/{SLUG}/cover-640.jpg">' in page
    assert '<meta name="twitter:card" content="summary">' in page
    assert 'rel="icon"' in page and (built / "favicon.png").is_file()
    assert "prefers-color-scheme: dark" in (built / "static" / "site.css").read_text("utf-8")
    show = (built / "index.html").read_text("utf-8")
    assert f'href="episodes/{SLUG}/"' in show
    assert f'<meta property="og:image" content="{BASE}/art/cover-640.jpg">' in show


def test_pages_show_resized_covers_not_the_podcast_art(built: Path) -> None:
    for width in site.COVER_WIDTHS:
        for path in (built / "art" / f"cover-{width}.jpg", built / "episodes" / SLUG / f"cover-{width}.jpg"):
            with Image.open(path) as image:
                assert image.size == (width, width)
    with Image.open(built / "favicon.png") as icon:
        assert icon.size == (32, 32)
    for page in (built / "index.html", built / "episodes" / SLUG / "index.html"):
        sources = re.findall(r'<img[^>]* src="([^"]+)"', page.read_text("utf-8"))
        assert sources and not [s for s in sources if s.endswith("/cover.jpg") or s == "cover.jpg"]


def test_the_transcript_has_every_word_with_its_times(built: Path, one_render: Path) -> None:
    import json

    page = (built / "episodes" / SLUG / "index.html").read_text("utf-8")
    words = json.loads((one_render / "timeline.json").read_text("utf-8"))["words"]
    spans = re.findall(r'<span data-s="([0-9.]+)" data-e="([0-9.]+)">([^<]*)</span>', page)
    assert [(float(s), float(e), text) for s, e, text in spans] == [(w["start"], w["end"], w["text"]) for w in words]


def test_curated_videos_are_always_a_section(tmp_path: Path, one_render: Path) -> None:
    without = tmp_path / "without"
    site.build_site([one_render], without, settings(), now=T1)
    for page in (without / "index.html", without / "episodes" / SLUG / "index.html"):
        assert "No curated videos are available yet." in page.read_text("utf-8")

    playlist = write_playlist(tmp_path / "output" / "videos")
    with_videos = tmp_path / "with"
    site.build_site([one_render], with_videos, settings(videos=playlist), now=T1)
    page = (with_videos / "episodes" / SLUG / "index.html").read_text("utf-8")
    assert "Video essay 1 &lt;on&gt; Hailsham" in page
    assert 'href="../../videos/"' in page
    for name in ("index.html", "playlist.jspf", "playlist.m3u8"):
        assert (with_videos / "videos" / name).read_bytes() == (playlist.parent / name).read_bytes()


def test_no_command_line_text_reaches_the_public(built: Path) -> None:
    for page in [built / "index.html", *built.glob("episodes/*/index.html")]:
        text = page.read_text("utf-8")
        assert "nlmg-media " not in text.replace("made with nlmg-media.", "")
        assert "--" not in re.sub(r"<[^>]+>", "", text).replace("—", "")
