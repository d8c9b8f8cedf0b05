"""The site's pages: the show page and each episode's page, as HTML strings (escaped, no third-party script).

The episode page carries the player, the chapters that seek it, and the follow-along transcript built from
``timeline.json`` (one span per spoken word with its start and end). ``site`` decides what is written where.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipeline.publishing.feed import FEED_NAME, Channel, episode_page, voice_line
from pipeline.publishing.registry import EpisodeRecord, book_line, site_url
from pipeline.times import clock

STATIC_FOLDER = "static"  # the site's own CSS and JavaScript, copied from pipeline/publishing/static/
COVER_WIDTHS = (160, 320, 640)  # pixel widths of the covers the pages show (1x/2x of 72-192 CSS px, og:image)


@dataclass(frozen=True)
class PlaylistVideo:
    """One playable third-party video from the curated playlist (already filtered to status ``ok``)."""

    title: str
    url: str
    creator: str = ""
    duration: float | None = None
    image: str | None = None
    annotation: str = ""


def episode_folder(slug: str) -> str:
    """The site-relative folder of an episode's files and page, with a trailing slash."""
    return episode_page(slug)


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class PageContext:
    """What every page of the site shares: the show, its episodes, the curated videos and the site's files."""

    channel: Channel
    episodes: Sequence[EpisodeRecord]
    site: Path
    videos: Sequence[PlaylistVideo]
    videos_page: bool  # the standalone playlist page is published at videos/


def _subscribe_links(feed_url: str, title: str) -> list[tuple[str, str]]:
    """(label, href) of the buttons that open the feed in common podcast apps (their documented URL schemes)."""
    bare = re.sub(r"^https?://", "", feed_url)
    encoded = quote(feed_url, safe="")
    return [
        ("Apple Podcasts", f"podcasts://{bare}"),
        ("Overcast", f"overcast://x-callback-url/add?url={encoded}"),
        ("Pocket Casts", f"pktc://subscribe/{bare}"),
        ("AntennaPod", f"https://antennapod.org/deeplink/subscribe?url={encoded}&title={quote(title, safe='')}"),
        ("Other apps (podcast://)", f"podcast://{bare}"),
    ]


def _subscribe_section(ctx: PageContext, prefix: str) -> str:
    feed_url = ctx.channel.feed_url
    links = "".join(
        f'<li><a class="button" href="{_esc(href)}">{_esc(label)}</a></li>'
        for label, href in _subscribe_links(feed_url, ctx.channel.title)
    )
    return f"""<section class="subscribe" aria-labelledby="subscribe-{prefix}">
<h2 id="subscribe-{prefix}">Subscribe</h2>
<p>Follow the show in your podcast app, or paste the feed address into it.</p>
<ul class="links">
<li><button type="button" class="button" data-copy="{_esc(feed_url)}" aria-describedby="copied-{prefix}">\
Copy feed address</button></li>
{links}
</ul>
<code class="feed-url">{_esc(feed_url)}</code>
<p class="status" id="copied-{prefix}" role="status"></p>
</section>"""


def _curated_section(ctx: PageContext, root: str) -> str:
    page_link = f'<p><a href="{root}videos/">All curated videos, with notes</a></p>' if ctx.videos_page else ""
    if not ctx.videos:
        body = '<p class="note">No curated videos are available yet.</p>'
    else:
        items = []
        for video in ctx.videos:
            url = _esc(video.url)
            thumb = (
                f'<a class="thumb" href="{url}" rel="noopener noreferrer" tabindex="-1" aria-hidden="true">'
                f'<img src="{_esc(video.image)}" alt="" loading="lazy" referrerpolicy="no-referrer" width="128" '
                f'height="72"></a>'
                if video.image
                else ""
            )
            length = clock(video.duration) if video.duration else ""
            meta = " · ".join(_esc(m) for m in (video.creator, length) if m)
            note = f"<p>{_esc(video.annotation)}</p>" if video.annotation else ""
            items.append(
                f'<li>{thumb}<div><a class="title" href="{url}" rel="noopener noreferrer">{_esc(video.title)}</a>'
                f"{f'<p class=meta>{meta}</p>' if meta else ''}{note}</div></li>"
            )
        body = f'<ul class="videos">{"".join(items)}</ul>'
    return f'<section aria-labelledby="curated"><h2 id="curated">More to watch</h2>{body}{page_link}</section>'


def _cover_img(record_or_none: EpisodeRecord | None, root: str, css_class: str, sizes: str, size: int) -> str:
    """An ``<img>`` choosing among the resized covers (``srcset``), never the 1400+ px podcast art."""
    folder = f"{root}{episode_folder(record_or_none.slug)}" if record_or_none else f"{root}art/"
    srcset = ", ".join(f"{folder}cover-{w}.jpg {w}w" for w in COVER_WIDTHS)
    return (
        f'<img class="{css_class}" src="{folder}cover-{COVER_WIDTHS[1]}.jpg" srcset="{srcset}" sizes="{sizes}" '
        f'alt="" width="{size}" height="{size}">'
    )


def _head(ctx: PageContext, *, title: str, description: str, url: str, image: str, root: str, kind: str) -> str:
    channel = ctx.channel
    return f"""<!doctype html>
<html lang="{_esc(channel.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title>
<meta name="description" content="{_esc(description)}">
<meta name="color-scheme" content="light dark">
<meta name="theme-color" content="#fbf8f3" media="(prefers-color-scheme: light)">
<meta name="theme-color" content="#14171c" media="(prefers-color-scheme: dark)">
<link rel="canonical" href="{_esc(url)}">
<link rel="alternate" type="application/rss+xml" title="{_esc(channel.title)}" href="{_esc(channel.feed_url)}">
<link rel="icon" type="image/png" sizes="32x32" href="{root}favicon.png">
<link rel="apple-touch-icon" href="{root}apple-touch-icon.png">
<meta property="og:type" content="{kind}">
<meta property="og:site_name" content="{_esc(channel.title)}">
<meta property="og:title" content="{_esc(title)}">
<meta property="og:description" content="{_esc(description)}">
<meta property="og:url" content="{_esc(url)}">
<meta property="og:image" content="{_esc(image)}">
<meta property="og:image:width" content="{COVER_WIDTHS[-1]}">
<meta property="og:image:height" content="{COVER_WIDTHS[-1]}">
<meta name="twitter:card" content="summary">
<meta name="twitter:title" content="{_esc(title)}">
<meta name="twitter:description" content="{_esc(description)}">
<meta name="twitter:image" content="{_esc(image)}">
<link rel="stylesheet" href="{root}{STATIC_FOLDER}/site.css">
</head>
<body>
<a class="skip" href="#main">Skip to the player</a>
"""


def _footer(ctx: PageContext, root: str) -> str:
    count = len(ctx.episodes)
    return f"""<footer class="wrap">
<p>{count} episode{"" if count == 1 else "s"} · <a href="{root}{FEED_NAME}">RSS feed</a> · \
Narrated by a synthetic voice; made with nlmg-media.</p>
</footer>
<script src="{root}{STATIC_FOLDER}/player.js" defer></script>
</body>
</html>
"""


def _player(ctx: PageContext, record: EpisodeRecord, root: str, *, share: bool) -> str:
    files = record.files
    folder = f"{root}{episode_folder(record.slug)}"
    audio_src = f"{folder}{quote(files['audio']['path'].rsplit('/', 1)[-1])}"
    share_button = (
        '<button type="button" data-action="share">Share from <span data-share-time>0:00</span></button>'
        if share
        else ""
    )
    return f"""<section class="player" data-player data-duration="{record.duration:.3f}" aria-label="Player">
<audio controls preload="metadata" src="{_esc(audio_src)}"></audio>
<p class="now-chapter" data-chapter-now aria-live="polite"></p>
<div class="controls">
<button type="button" data-action="back">{_REPLAY_ICON}<span class="sr">Back </span>15 s</button>
<button type="button" data-action="play"><span data-icon aria-hidden="true">▶</span> \
<span data-label>Play</span></button>
<button type="button" data-action="forward"><span class="sr">Forward </span>30 s{_FORWARD_ICON}</button>
</div>
<div class="timebar">
<span data-elapsed>0:00</span>
<input type="range" min="0" max="{max(record.duration, 1):.3f}" step="1" value="0" aria-label="Position">
<span data-total>{clock(record.duration)}</span>
</div>
<div class="extra">
<button type="button" data-action="speed">Speed <span data-label>1×</span></button>
{share_button}
</div>
<p class="status" data-status role="status"></p>
</section>"""


# A circular arrow for "back"; the "forward" icon is its mirror image.
_REPLAY_PATH = "M12 5V1L7 6l5 5V7a6 6 0 1 1-6 6H4a8 8 0 1 0 8-8z"
_REPLAY_ICON = f'<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="{_REPLAY_PATH}"/></svg>'
_FORWARD_ICON = (
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false">'
    f'<path transform="matrix(-1 0 0 1 24 0)" d="{_REPLAY_PATH}"/></svg>'
)


def _chapters_section(record: EpisodeRecord) -> str:
    if not record.chapters:
        return ""
    items = "".join(
        f'<li><button type="button" data-start="{float(c["start"]):.3f}" data-title="{_esc(c["title"])}">'
        f'<span class="t">{clock(float(c["start"]))}</span> <span>{_esc(c["title"])}</span></button></li>'
        for c in record.chapters
    )
    return (
        f'<section aria-labelledby="chapters-{_esc(record.slug)}"><h2 id="chapters-{_esc(record.slug)}">Chapters</h2>'
        f'<ol class="chapters" data-chapter-list>{items}</ol></section>'
    )


def _transcript_html(site: Path, record: EpisodeRecord) -> str:
    """The transcript's body: every word a span timed from ``timeline.json`` (sentence spans inside paragraphs
    inside chapters); without word times, the transcript's segments are the timed spans."""
    words = _timeline_words(site, record)
    titles = [str(c.get("title", "")) for c in record.chapters]
    parts: list[str] = []
    if words:
        chapter = paragraph = sentence = None
        for word in words:
            if word["chapter"] != chapter:
                if sentence is not None:
                    parts.append("</span></p>")
                chapter, paragraph, sentence = word["chapter"], None, None
                if 0 <= chapter < len(titles) and titles[chapter]:
                    parts.append(f"<h3>{_esc(titles[chapter])}</h3>")
            if word["paragraph"] != paragraph:
                if sentence is not None:
                    parts.append("</span></p>")
                paragraph, sentence = word["paragraph"], None
                parts.append("<p>")
            if word["sentence"] != sentence:
                if sentence is not None:
                    parts.append("</span> ")
                sentence = word["sentence"]
                parts.append('<span class="sentence">')
            else:
                parts.append(" ")
            parts.append(f'<span data-s="{word["start"]:.3f}" data-e="{word["end"]:.3f}">{_esc(word["text"])}</span>')
        parts.append("</span></p>")
        return "".join(parts)
    for title, segments in _transcript_sections(site, record):
        parts.append(f"<h3>{_esc(title)}</h3>" if title else "")
        spans = " ".join(
            f'<span class="sentence"><span data-s="{start:.3f}" data-e="{end:.3f}">{_esc(text)}</span></span>'
            for start, end, text in segments
        )
        parts.append(f"<p>{spans}</p>")
    return "".join(parts)


def _timeline_words(site: Path, record: EpisodeRecord) -> list[dict[str, Any]]:
    entry = record.files.get("timeline")
    if not entry:
        return []
    try:
        data = json.loads((site / entry["path"]).read_text("utf-8"))
        words: list[dict[str, Any]] = [
            {
                "text": str(w["text"]),
                "start": float(w["start"]),
                "end": float(w["end"]),
                "sentence": int(w.get("sentence", 0)),
                "paragraph": int(w.get("paragraph", 0)),
                "chapter": int(w.get("chapter", 0)),
            }
            for w in data.get("words", [])
        ]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return []
    return sorted((w for w in words if w["text"].strip()), key=lambda w: w["start"])


def _transcript_sections(site: Path, record: EpisodeRecord) -> list[tuple[str, list[tuple[float, float, str]]]]:
    """Transcript segments grouped under their chapter: ``[(chapter title, [(start, end, text)])]``."""
    entry = record.files.get("transcript")
    if not entry:
        return []
    try:
        segments = json.loads((site / entry["path"]).read_text("utf-8")).get("segments", [])
    except (OSError, ValueError, AttributeError):
        return []
    starts = [(float(c.get("start", 0)), str(c.get("title", ""))) for c in record.chapters] or [(0.0, "")]
    sections: list[tuple[str, list[tuple[float, float, str]]]] = [(title, []) for _, title in starts]
    for segment in segments:
        if not isinstance(segment, dict) or not str(segment.get("body", "")).strip():
            continue
        start = float(segment.get("startTime", 0))
        end = float(segment.get("endTime", start))
        index = max((i for i, (s, _) in enumerate(starts) if s <= start + 1e-3), default=0)
        sections[index][1].append((start, end, str(segment["body"]).strip()))
    return [s for s in sections if s[1]]


def _episode_meta(record: EpisodeRecord) -> str:
    published = record.first_published
    meta = [f"Episode {record.number}"] if record.number else []
    meta += [f"{published.day} {published:%B %Y}", clock(record.duration)]
    return " · ".join(_esc(m) for m in meta)


HERO_SIZES = "(min-width: 640px) 160px, 96px"  # the episode cover's CSS width (site.css .hero .art)


def render_episode_page(ctx: PageContext, record: EpisodeRecord) -> str:
    """``episodes/<slug>/index.html``: player, chapters, follow-along transcript, video, videos, subscribe."""
    root = "../../"
    files = record.files
    channel = ctx.channel
    url = site_url(channel.base_url, episode_page(record.slug))
    image = site_url(channel.base_url, f"{episode_folder(record.slug)}cover-{COVER_WIDTHS[-1]}.jpg")
    has_cover = "cover" in files
    if not has_cover:
        image = site_url(channel.base_url, f"art/cover-{COVER_WIDTHS[-1]}.jpg")
    description = record.description or record.title
    summary_of = book_line(record.book, _esc, "cite")
    byline = f'<p class="by">{summary_of}.</p>' if summary_of else ""
    parts = [
        _head(
            ctx,
            title=f"{record.title} — {channel.title}",
            description=description,
            url=url,
            image=image,
            root=root,
            kind="article",
        ),  # fmt: skip
        f'<header class="topbar"><div class="wrap"><a href="{root}">'
        f'<img src="{root}art/cover-{COVER_WIDTHS[0]}.jpg" alt="" width="32" height="32">'
        f"<span>{_esc(channel.title)}</span></a></div></header>",
        f'<main id="main" class="wrap" data-episode="{_esc(record.slug)}">',
        f'<div class="hero">{_cover_img(record if has_cover else None, root, "art", HERO_SIZES, 96)}'
        f"<div><h1>{_esc(record.title)}</h1>{byline}<p class=meta>{_episode_meta(record)}</p></div></div>",
        _player(ctx, record, root, share=True),
    ]
    if record.description:
        parts.append(f"<p>{_esc(record.description)}</p>")
    parts.append(f'<p class="muted">{_esc(voice_line(record))}</p>')
    parts.append(_chapters_section(record))
    transcript = _transcript_html(ctx.site, record)
    if transcript:
        parts.append(
            '<section aria-labelledby="transcript-title"><div class="transcript-head">'
            '<h2 id="transcript-title">Transcript</h2>'
            '<label class="follow"><input type="checkbox" data-follow checked> Follow along</label></div>'
            '<div class="transcript" data-transcript tabindex="0" role="region" aria-label="Transcript, '
            f'click a word to listen from there">{transcript}</div></section>'
        )
    if "video_landscape" in files:
        folder = f"{root}{episode_folder(record.slug)}"
        poster = f' poster="{folder}cover-{COVER_WIDTHS[-1]}.jpg"' if has_cover else ""
        track = (
            f'<track kind="captions" src="{folder}captions.vtt" srclang="{_esc(channel.language)}" label="Captions">'
            if "captions_vtt" in files
            else ""
        )
        video_src = _esc(root + quote(files["video_landscape"]["path"]))
        parts.append(
            '<section aria-labelledby="video-title"><h2 id="video-title">Watch the captioned video</h2>'
            f'<video controls preload="none"{poster} src="{video_src}">{track}</video></section>'
        )
    parts.append(_curated_section(ctx, root))
    parts.append(_subscribe_section(ctx, "episode"))
    downloads = [("audio", "MP3"), ("captions_vtt", "Captions (VTT)"), ("captions_srt", "Captions (SRT)"),
                 ("transcript", "Transcript (JSON)"), ("chapters", "Chapters (JSON)"), ("timeline", "Word timings"),
                 ("video_landscape", "Video"), ("video_portrait", "Video (portrait)"),
                 ("video_square", "Video (square)")]  # fmt: skip
    links = "".join(
        f'<li><a class="button" href="{_esc(root + quote(files[role]["path"]))}">{label}</a></li>'
        for role, label in downloads
        if role in files
    )
    parts.append(
        f'<section aria-labelledby="downloads"><h2 id="downloads">Download</h2><ul class="links">{links}</ul></section>'
    )
    parts.append("</main>")
    parts.append(_footer(ctx, root))
    return "\n".join(parts)


def render_show_page(ctx: PageContext) -> str:
    """The site's ``index.html``: the show, the latest episode's player, every episode, videos, subscribe."""
    channel = ctx.channel
    root = ""
    image = site_url(channel.base_url, f"art/cover-{COVER_WIDTHS[-1]}.jpg")
    author = f'<p class="by">{_esc(channel.author)}</p>' if channel.author else ""
    parts = [
        _head(
            ctx,
            title=channel.title,
            description=channel.description,
            url=channel.base_url + "/",
            image=image,
            root=root,
            kind="website",
        ),  # fmt: skip
        '<main id="main" class="wrap">',
        f'<header class="hero show-hero">{_cover_img(None, root, "art", "(min-width: 640px) 192px, 128px", 128)}'
        f"<div><h1>{_esc(channel.title)}</h1>{author}</div></header>",
    ]
    if ctx.episodes:
        latest = ctx.episodes[0]
        page = episode_page(latest.slug)
        parts.append(
            f'<section data-episode="{_esc(latest.slug)}" aria-labelledby="latest"><h2 id="latest">Latest: '
            f'<a href="{page}">{_esc(latest.title)}</a></h2><p class="meta">{_episode_meta(latest)}</p>'
            f"{_player(ctx, latest, root, share=False)}"
            f'<p><a class="button" href="{page}">Chapters, transcript and more</a></p></section>'
        )
    parts.append(f"<p>{_esc(channel.description)}</p>")
    items = []
    for record in ctx.episodes:
        page = episode_page(record.slug)
        cover = _cover_img(record if "cover" in record.files else None, root, "", "72px", 72)
        summary = f"<p>{_esc(record.description)}</p>" if record.description else ""
        items.append(
            f'<li>{cover}<div><a class="title" href="{page}">{_esc(record.title)}</a>'
            f'<p class="meta">{_episode_meta(record)}</p>{summary}</div></li>'
        )
    listing = "".join(items)
    parts.append(f'<section aria-labelledby="all"><h2 id="all">Episodes</h2><ul class="episodes">{listing}</ul>')
    parts.append("</section>")
    parts.append(_curated_section(ctx, root))
    parts.append(_subscribe_section(ctx, "show"))
    parts.append("</main>")
    parts.append(_footer(ctx, root))
    return "\n".join(parts)
