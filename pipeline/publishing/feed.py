"""The podcast feed: ``feed.xml`` (RSS 2.0 + itunes + podcast), written from the episode registry.

The registry (``episodes.json``, :mod:`pipeline.publishing.registry`) is the memory of the site. Each episode's
GUID and first publish date are written there the first time it is published and never recomputed, so re-publishing
(from any machine that has the site folder, with the same or another base URL) never makes apps show an episode
twice; an episode whose render folder is not given again stays in the feed from what the registry remembers.

The show's identity is recorded there too: the channel's ``podcast:guid`` is computed from the feed URL of the
first publish (as the namespace prescribes) and then read back forever, so moving the site to another base URL
keeps the show's identity (and every episode GUID derived from it); ``build_site`` says so when the URL moves.

The feed is built with feedgen (its ``podcast`` extension writes the ``itunes:`` tags) plus a small extension
of our own for the Podcasting 2.0 namespace (``podcast:guid``, ``podcast:locked`` — only with an owner address,
``podcast:medium``, ``podcast:person``, ``podcast:episode``, ``podcast:transcript``, ``podcast:chapters``,
``podcast:alternateEnclosure`` for the videos, and ``podcast:txt purpose="ai-content"``, the namespace's
disclosure that AI-generated content — here the synthetic voice — was used) and Podlove Simple Chapters
(``psc:chapters``, chapters inline for apps such as gPodder). ``podcast:person`` roles come from the Podcast
Taxonomy Project: the show's author is its ``writer``, the book's author is credited as ``author`` (the
taxonomy's closest role; the summary is not the book's own text). A ``<?xml-stylesheet?>`` instruction points
browsers at ``feed.xsl`` so a person who opens the feed sees a page, not raw XML.

The namespace's spec says clients must treat its original GitHub URI as identical to the current one, but some
parsers (podcastparser, gPodder's, as of 0.6.11) know only the old URI. So each item repeats its preferred
transcript and its chapters link once under a second prefix bound to the old URI: those parsers find them, apps
that match the ``podcast:`` prefix see no duplicate, and apps that honour both URIs see the same link twice.
feedgen 1.0 only knows the old ``itunes:explicit`` values ``yes|no|clean``; Apple now
documents ``true|false``, so the extension rewrites the value in the output rather than replacing the library.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from pipeline import __version__, atomic
from pipeline.errors import ConfigError, InputError
from pipeline.publishing.registry import (
    EpisodeRecord,
    book_line,
    podcast_guid,
    site_url,
)
from pipeline.times import clock

FEED_NAME = "feed.xml"
FEED_STYLESHEET = "feed.xsl"

ITUNES_NAMESPACE = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NAMESPACE = "https://podcastindex.org/namespace/1.0"
PODCAST_LEGACY_NAMESPACE = "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md"
PSC_NAMESPACE = "http://podlove.org/simple-chapters"
# Podcasting 2.0 `podcast:guid`: UUIDv5 of the feed URL (scheme and trailing slashes removed) in this namespace.

# Apple Podcasts categories (the 2019 list Apple still documents); a subcategory must belong to its category.
APPLE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Arts": ("Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"),
    "Business": ("Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit"),
    "Comedy": ("Comedy Interviews", "Improv", "Stand-Up"),
    "Education": ("Courses", "How To", "Language Learning", "Self-Improvement"),
    "Fiction": ("Comedy Fiction", "Drama", "Science Fiction"),
    "Government": (),
    "History": (),
    "Health & Fitness": ("Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality"),
    "Kids & Family": ("Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"),
    "Leisure": (
        "Animation & Manga",
        "Automotive",
        "Aviation",
        "Crafts",
        "Games",
        "Hobbies",
        "Home & Garden",
        "Video Games",
    ),  # fmt: skip
    "Music": ("Music Commentary", "Music History", "Music Interviews"),
    "News": (
        "Business News",
        "Daily News",
        "Entertainment News",
        "News Commentary",
        "Politics",
        "Sports News",
        "Tech News",
    ),  # fmt: skip
    "Religion & Spirituality": (
        "Buddhism",
        "Christianity",
        "Hinduism",
        "Islam",
        "Judaism",
        "Religion",
        "Spirituality",
    ),  # fmt: skip
    "Science": (
        "Astronomy",
        "Chemistry",
        "Earth Sciences",
        "Life Sciences",
        "Mathematics",
        "Natural Sciences",
        "Nature",
        "Physics",
        "Social Sciences",
    ),  # fmt: skip
    "Society & Culture": ("Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships"),
    "Sports": (
        "Baseball",
        "Basketball",
        "Cricket",
        "Fantasy Sports",
        "Football",
        "Golf",
        "Hockey",
        "Rugby",
        "Running",
        "Soccer",
        "Swimming",
        "Tennis",
        "Volleyball",
        "Wilderness",
        "Wrestling",
    ),  # fmt: skip
    "Technology": (),
    "True Crime": (),
    "TV & Film": ("After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"),
}
DEFAULT_CATEGORY = "Arts › Books"

# Characters XML 1.0 cannot carry at all (lxml refuses them); untrusted text is cleaned of them first.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def parse_category(text: str) -> tuple[str, str | None]:
    """``"Arts › Books"`` (or ``Arts > Books``, ``Arts/Books``, ``arts:books``) → ``("Arts", "Books")``."""
    parts = [p.strip() for p in re.split(r"\s*(?:›|>|/|:)\s*", text.strip()) if p.strip()]
    if not parts or len(parts) > 2:
        raise ConfigError(f"category {text!r} should be 'Category' or 'Category › Subcategory', e.g. 'Arts › Books'")
    by_lower = {name.lower(): name for name in APPLE_CATEGORIES}
    main = by_lower.get(parts[0].lower())
    if main is None:
        raise ConfigError(
            f"{parts[0]!r} is not an Apple Podcasts category (e.g. {', '.join(list(APPLE_CATEGORIES)[:6])}…)"
        )
    if len(parts) == 1:
        return main, None
    subs = {name.lower(): name for name in APPLE_CATEGORIES[main]}
    sub = subs.get(parts[1].lower())
    if sub is None:
        choices = ", ".join(APPLE_CATEGORIES[main]) or "none"
        raise ConfigError(f"{parts[1]!r} is not a subcategory of {main!r} in Apple Podcasts (choices: {choices})")
    return main, sub


def normalise_base_url(base_url: str) -> str:
    """Check that ``base_url`` is an absolute http(s) URL and return it without a trailing slash.

    Every feed, enclosure and page link starts with it, so it must be a URL as written in a feed: ASCII (a
    non-ASCII host in its ``xn--`` form, other characters %-escaped), no spaces, quotes or angle brackets, no
    user name or password (they would be published to every subscriber), a valid host and port, no query.
    """
    text = base_url.strip()
    problem = _base_url_problem(text)
    if problem:
        shown = text.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
        detail = "" if problem == _NOT_ABSOLUTE else f" (it {problem})"
        raise InputError(
            f"--base-url must be an absolute http(s) URL such as https://example.org/podcast, got {shown!r}{detail}"
        )
    return text.rstrip("/")


_URL_CHARACTERS = re.compile(r"[A-Za-z0-9\-._~:/@!$&()*+,;=%\[\]]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%*+/=?^_{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9-]{2,63}"
)


_NOT_ABSOLUTE = "is not an absolute http(s) URL"


def _base_url_problem(text: str) -> str | None:
    bad = next((c for c in text if not _URL_CHARACTERS.fullmatch(c)), None)
    if bad is not None:
        return f"contains {bad!r}, which a URL cannot hold unescaped: write it as %XX"
    if _BAD_ESCAPE.search(text):
        return "has a % that does not start a %XX escape"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        return f"is not a valid URL: {exc}"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _NOT_ABSOLUTE
    if "@" in parts.netloc:
        return "has a user name or password, which the feed would show every subscriber"
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        return "must not have a query or fragment"
    if port == 0 or parts.netloc.endswith(":"):
        return "has an invalid port"
    host = parts.hostname or ""
    if parts.netloc.startswith("["):
        import ipaddress

        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"has an invalid IPv6 address {host!r}"
    elif not all(_HOST_LABEL.fullmatch(label) for label in host.rstrip(".").split(".")):
        return f"has an invalid host name {host!r}"
    return None


def email_problem(email: str) -> str | None:
    """Why ``email`` cannot be the feed's owner address (plain ``name@example.org``), or ``None``."""
    if not _EMAIL.fullmatch(email):
        return "is not a plain e-mail address such as name@example.org (no spaces, quotes or markup)"
    return None


def xml_safe(text: str) -> str:
    """Untrusted text made safe to hand to lxml: XML-invalid control characters dropped (escaping is lxml's)."""
    return _XML_INVALID.sub("", text)


# ------------------------------------------------------------------------------------------------- the feed


@dataclass(frozen=True)
class Channel:
    """Everything the feed says about the show itself (resolved: no defaults left to fill in)."""

    base_url: str
    title: str
    description: str
    image_path: str  # site-relative path of the square cover (JPEG or PNG, 1400–3000 px)
    category: str = DEFAULT_CATEGORY
    language: str = "en"
    author: str | None = None
    email: str | None = None
    explicit: bool = False
    show_type: str = "episodic"
    locked: bool = True
    guid: str = ""  # the recorded podcast:guid; empty: computed from the feed URL
    medium: str = "podcast"

    @property
    def feed_url(self) -> str:
        return site_url(self.base_url, FEED_NAME)

    @property
    def podcast_guid(self) -> str:
        return self.guid or podcast_guid(self.feed_url)


def episode_page(slug: str) -> str:
    """The site-relative folder of an episode's page (its stable URL, the feed item's ``<link>``)."""
    return f"episodes/{quote(slug)}/"


# (render.json / registry role, title shown by apps ≤ 32 characters) of the videos offered beside the audio.
VIDEO_ROLES = (
    ("video_landscape", "Captioned video"),
    ("video_portrait", "Captioned video (portrait)"),
    ("video_square", "Captioned video (square)"),
)


def voice_line(record: EpisodeRecord) -> str:
    """``"Narrated by a synthetic voice (piper, en_US-joe-medium)."`` — shown wherever the episode is described."""
    engine, voice = record.voice.get("engine"), record.voice.get("voice")
    detail = ", ".join(str(v) for v in (engine, voice) if v)
    return f"Narrated by a synthetic voice{f' ({detail})' if detail else ''}."


def transcript_links(record: EpisodeRecord) -> list[tuple[str, str, str | None]]:
    """``(site path, MIME type, rel)`` of each transcript, in the order apps should prefer them."""
    links = []
    for role, mime, rel in (
        ("captions_vtt", "text/vtt", "captions"),
        ("captions_srt", "application/x-subrip", "captions"),
        ("transcript", "application/json", None),
    ):
        entry = record.files.get(role)
        if entry:
            links.append((entry["path"], mime, rel))
    return links


def episode_html(record: EpisodeRecord) -> str:
    """The episode's show notes as HTML (the feed puts it in CDATA): description, book line, chapter list."""

    def esc(text: str) -> str:
        return html.escape(xml_safe(text), quote=True)

    parts = []
    if record.description:
        parts.append(f"<p>{esc(record.description)}</p>")
    if line := book_line(record.book, esc, "em"):
        parts.append(f"<p>{line}.</p>")
    if record.chapters:
        items = "".join(
            f"<li>{clock(float(c.get('start', 0)))} {esc(str(c.get('title', '')))}</li>" for c in record.chapters
        )
        parts.append(f"<p>Chapters:</p><ul>{items}</ul>")
    parts.append(f"<p>{esc(voice_line(record))}</p>")
    text = "".join(parts)
    # html.escape turns every '>' into '&gt;', so the CDATA terminator cannot occur; check anyway.
    assert "]]>" not in text
    return text


def build_feed(channel: Channel, episodes: Sequence[EpisodeRecord]) -> bytes:
    """The RSS document for ``channel`` with ``episodes`` (newest first), as UTF-8 bytes."""
    from feedgen.feed import FeedGenerator

    main, sub = parse_category(channel.category)
    fg = FeedGenerator()
    fg.load_extension("podcast")  # itunes:*; must be loaded before ours, whose extend_rss post-fixes its output
    fg.register_extension("podcastindex", _PodcastIndexExtension, _PodcastIndexEntryExtension)
    site_link = channel.base_url + "/"
    image_url = site_url(channel.base_url, channel.image_path)

    fg.title(xml_safe(channel.title))
    # feedgen uses the *last* link as the RSS <link>, so the self link (atom:link) goes first.
    fg.link(href=channel.feed_url, rel="self", type="application/rss+xml")
    fg.link(href=site_link, rel="alternate")
    fg.description(xml_safe(channel.description))
    fg.language(channel.language)
    fg.generator("nlmg-media", version=__version__)
    fg.image(url=image_url, title=xml_safe(channel.title), link=site_link)
    # feedgen stamps lastBuildDate with the wall clock; use the last content change so an unchanged site
    # produces a byte-identical feed (and an object store sees nothing to upload).
    if episodes:
        fg.lastBuildDate(max(e.updated for e in episodes))
    if channel.author:
        fg.podcast.itunes_author(xml_safe(channel.author))
    if channel.email:
        fg.podcast.itunes_owner(name=xml_safe(channel.author or channel.title), email=xml_safe(channel.email))
    fg.podcast.itunes_image(image_url)
    fg.podcast.itunes_category({"cat": main, **({"sub": sub} if sub else {})})
    fg.podcast.itunes_explicit("yes" if channel.explicit else "no")  # rewritten to true/false below
    fg.podcast.itunes_type(channel.show_type)
    fg.podcast.itunes_summary(xml_safe(channel.description))
    fg.podcastindex.guid = channel.podcast_guid
    # podcast:locked protects the feed from imports by other hosts; without an owner address to verify a
    # move it could only lock the owner out, so it is written only with one.
    fg.podcastindex.locked = channel.locked if channel.email else None
    fg.podcastindex.owner_email = channel.email
    fg.podcastindex.medium = channel.medium
    fg.podcastindex.people = [(xml_safe(channel.author), "writer", "writing")] if channel.author else []
    fg.podcastindex.ai_content = bool(episodes)  # every episode is read by a synthetic voice

    for record in episodes:
        fe = fg.add_entry(order="append")
        fe.title(xml_safe(record.title))
        fe.link(href=site_link + episode_page(record.slug))
        fe.guid(record.guid, permalink=False)
        fe.pubDate(record.first_published)
        fe.content(episode_html(record), type="CDATA")  # no plain description: <description> carries the CDATA
        fe.enclosure(site_url(channel.base_url, record.audio["path"]), str(record.audio["bytes"]), "audio/mpeg")
        fe.podcast.itunes_duration(int(round(record.duration)))
        fe.podcast.itunes_episode_type("full")
        if record.number > 0:
            fe.podcast.itunes_episode(record.number)
            fe.podcastindex.number = record.number
        cover = record.files.get("cover")
        if cover and cover.get("artwork_ok"):
            fe.podcast.itunes_image(site_url(channel.base_url, cover["path"]))
        fe.podcastindex.transcripts = [
            (site_url(channel.base_url, path), mime, rel, channel.language)
            for path, mime, rel in transcript_links(record)
        ]
        chapters = record.files.get("chapters")
        fe.podcastindex.chapters_url = site_url(channel.base_url, chapters["path"]) if chapters else None
        fe.podcastindex.inline_chapters = [
            (float(c.get("start", 0)), xml_safe(str(c.get("title", "")))) for c in record.chapters
        ]
        fe.podcastindex.alternate_enclosures = [
            (site_url(channel.base_url, record.files[role]["path"]), int(record.files[role]["bytes"]), title)
            for role, title in VIDEO_ROLES
            if role in record.files
        ]
        # Item-level people replace the channel's (namespace rule), so the show's writer is named again.
        people = [(xml_safe(channel.author), "writer", "writing")] if channel.author else []
        if record.book.get("author"):
            people.append((xml_safe(str(record.book["author"])), "author", "writing"))
        fe.podcastindex.people = people
        fe.podcastindex.ai_content = True
    document = fg.rss_str(pretty=True)
    # feedgen has no API for processing instructions: put the stylesheet link right after the XML declaration.
    declaration_end = document.index(b"?>") + 2
    stylesheet = f'\n<?xml-stylesheet type="text/xsl" href="{FEED_STYLESHEET}"?>'.encode()
    return document[:declaration_end] + stylesheet + document[declaration_end:]


def write_feed(site: Path, channel: Channel, episodes: Sequence[EpisodeRecord]) -> Path:
    path = Path(site) / FEED_NAME
    atomic.write_bytes(path, build_feed(channel, episodes))
    return path


def _podcast_tag(name: str) -> str:
    return f"{{{PODCAST_NAMESPACE}}}{name}"


class _PodcastIndexExtension:
    """feedgen channel extension: the Podcasting 2.0 namespace, and Apple's current ``itunes:explicit`` values."""

    def __init__(self) -> None:
        self.guid: str | None = None
        self.locked: bool | None = None
        self.owner_email: str | None = None
        self.medium: str | None = None
        self.people: list[tuple[str, str, str]] = []  # (name, role, group)
        self.ai_content: bool | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NAMESPACE, "podcastlegacy": PODCAST_LEGACY_NAMESPACE, "psc": PSC_NAMESPACE}

    def extend_atom(self, feed: Any) -> Any:
        return feed

    def extend_rss(self, rss_feed: Any) -> Any:
        from feedgen.util import xml_elem

        channel = rss_feed[0]
        # Apple's spec now lists true/false; "yes"/"clean" are legacy. feedgen only writes the legacy words.
        for explicit in channel.findall(f"{{{ITUNES_NAMESPACE}}}explicit"):
            explicit.text = "true" if (explicit.text or "").strip() in ("yes", "true") else "false"
        if self.locked is not None:
            locked = xml_elem(_podcast_tag("locked"), channel)
            locked.text = "yes" if self.locked else "no"
            if self.owner_email:
                locked.attrib["owner"] = self.owner_email
        if self.guid:
            xml_elem(_podcast_tag("guid"), channel).text = self.guid
        if self.medium:
            xml_elem(_podcast_tag("medium"), channel).text = self.medium
        _add_people(channel, self.people)
        if self.ai_content is not None:
            _add_ai_content(channel, self.ai_content)
        return rss_feed


class _PodcastIndexEntryExtension:
    """feedgen item extension: ``podcast:transcript``, ``podcast:chapters`` (each preferred one mirrored under
    the namespace's old URI, see the module docstring) and ``psc:chapters``."""

    def __init__(self) -> None:
        self.transcripts: list[tuple[str, str, str | None, str]] = []  # (url, type, rel, language), preferred first
        self.chapters_url: str | None = None
        self.inline_chapters: list[tuple[float, str]] = []  # (start seconds, title)
        self.alternate_enclosures: list[tuple[str, int, str]] = []  # (url, bytes, title) of video/mp4 files
        self.people: list[tuple[str, str, str]] = []  # (name, role, group)
        self.number: int | None = None
        self.ai_content: bool | None = None

    def extend_atom(self, entry: Any) -> Any:
        return entry

    def extend_rss(self, item: Any) -> Any:
        from feedgen.util import xml_elem

        for namespace, transcripts in (
            (PODCAST_NAMESPACE, self.transcripts),
            (PODCAST_LEGACY_NAMESPACE, self.transcripts[:1]),
        ):
            for url, mime, rel, language in transcripts:
                transcript = xml_elem(f"{{{namespace}}}transcript", item, url=url, type=mime, language=language)
                if rel:
                    transcript.attrib["rel"] = rel
            if self.chapters_url:
                xml_elem(f"{{{namespace}}}chapters", item, url=self.chapters_url, type="application/json+chapters")
        if self.inline_chapters:
            chapters = xml_elem(f"{{{PSC_NAMESPACE}}}chapters", item, version="1.2")
            for start, title in self.inline_chapters:
                xml_elem(f"{{{PSC_NAMESPACE}}}chapter", chapters, start=_normal_play_time(start), title=title)
        if self.number:
            xml_elem(_podcast_tag("episode"), item).text = str(self.number)
        for url, length, title in self.alternate_enclosures:
            enclosure = xml_elem(_podcast_tag("alternateEnclosure"), item, type="video/mp4", length=str(length))
            enclosure.attrib["title"] = title
            xml_elem(_podcast_tag("source"), enclosure, uri=url)
        _add_people(item, self.people)
        if self.ai_content is not None:
            _add_ai_content(item, self.ai_content)
        return item


def _add_people(parent: Any, people: Sequence[tuple[str, str, str]]) -> None:
    from feedgen.util import xml_elem

    for name, role, group in people:
        if name.strip():
            xml_elem(_podcast_tag("person"), parent, role=role, group=group).text = name.strip()[:128]


def _add_ai_content(parent: Any, value: bool) -> None:
    from feedgen.util import xml_elem

    xml_elem(_podcast_tag("txt"), parent, purpose="ai-content").text = "true" if value else "false"


def _normal_play_time(seconds: float) -> str:
    """Podlove Simple Chapters' start format: ``HH:MM:SS.mmm``."""
    millis = int(round(max(seconds, 0.0) * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
