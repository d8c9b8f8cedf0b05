"""The static site: episode files, channel art, ``feed.xml``, ``episodes.json`` and ``index.html`` in one folder.

Layout (default ``output/site/``)::

    feed.xml  index.html  episodes.json  cover.jpg
    episodes/<slug>/<slug>.mp3  captions.vtt  captions.srt  chapters.json  transcript.json  cover.jpg
                    <slug>.mp4  <slug>-portrait.mp4  <slug>-square.mp4      (videos, when rendered)

``build_site`` reads each render folder's ``render.json``, copies the files that changed, records the episode
in the registry (keeping its GUID and first publish date), then writes the feed and the page. Every piece of
text that reaches ``index.html`` — book titles, summaries, third-party video titles — is HTML-escaped, and
links from third parties are kept only when they are http(s).
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from pipeline import atomic
from pipeline.cache import sha256_file
from pipeline.errors import InputError
from pipeline.media_types import mime
from pipeline.progress import Progress, ProgressEvent, quiet
from pipeline.publishing.feed import (
    DEFAULT_CATEGORY,
    FEED_NAME,
    Channel,
    EpisodeRecord,
    load_registry,
    normalise_base_url,
    parse_category,
    podcast_guid,
    save_registry,
    site_url,
    write_feed,
)
from pipeline.record import RECORD_NAME, RenderRecord, read_record
from pipeline.times import clock

INDEX_NAME = "index.html"
CHANNEL_COVER = "cover.jpg"
ARTWORK_MIN, ARTWORK_MAX = 1400, 3000  # Apple: square, 1400–3000 px, JPEG or PNG, RGB
LOCK_NAME = ".nlmg-publish.lock"
SKIPPED_OUTPUT_FOLDERS = {"site", "videos", ".cache"}

# render.json role -> (registry role, file name in episodes/<slug>/ with {slug} filled in)
_EPISODE_FILES = {
    "narration": ("audio", "{slug}.mp3"),
    "captions_vtt": ("captions_vtt", "captions.vtt"),
    "captions_srt": ("captions_srt", "captions.srt"),
    "chapters": ("chapters", "chapters.json"),
    "transcript": ("transcript", "transcript.json"),
    "cover": ("cover", "cover.jpg"),
    "video_landscape": ("video_landscape", "{slug}.mp4"),
    "video_portrait": ("video_portrait", "{slug}-portrait.mp4"),
    "video_square": ("video_square", "{slug}-square.mp4"),
}


@dataclass(frozen=True)
class SiteSettings:
    """What the user chose for the show (options over project file over these defaults)."""

    base_url: str
    title: str | None = None
    description: str | None = None
    author: str | None = None
    email: str | None = None
    category: str = DEFAULT_CATEGORY
    language: str = "en"
    explicit: bool = False
    locked: bool = True
    cover: Path | None = None  # the show's art; generated when absent and no episode cover qualifies
    videos: Path | None = None  # JSPF playlist of curated videos for the page


@dataclass(frozen=True)
class SiteReport:
    """What ``build_site`` did: where things are and what the user should know."""

    site: Path
    feed_url: str
    title: str
    episodes: tuple[str, ...]  # slugs in the feed, newest first
    added: tuple[str, ...]  # slugs published for the first time in this run
    copied: int  # episode files copied because they were new or changed
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class PlaylistVideo:
    """One playable third-party video from the curated playlist (already filtered to status ``ok``)."""

    title: str
    url: str
    creator: str = ""
    duration: float | None = None
    image: str | None = None
    annotation: str = ""


def find_render_dirs(output_root: Path) -> list[Path]:
    """Every ``output_root/*/`` folder holding a ``render.json`` (the site, videos and cache folders excluded)."""
    root = Path(output_root)
    if not root.is_dir():
        return []
    return sorted(
        p.parent
        for p in root.glob(f"*/{RECORD_NAME}")
        if p.parent.name not in SKIPPED_OUTPUT_FOLDERS and not p.parent.name.startswith(".")
    )


def build_site(
    render_dirs: Sequence[Path],
    site: Path,
    settings: SiteSettings,
    *,
    now: datetime | None = None,
    progress: Progress = quiet,
) -> SiteReport:
    """Add the renders in ``render_dirs`` to the site in ``site`` and rewrite its feed, page and registry."""

    def say(message: str) -> None:  # each step of the build, as a line
        progress(ProgressEvent("Building the site", 0, 0, detail=message))

    base_url = normalise_base_url(settings.base_url)
    parse_category(settings.category)  # fail before touching the site
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    site = Path(site)
    atomic.make_folder(site, "the site folder")

    busy = f"another `nlmg-media publish` is writing {site}; wait for it to finish"
    with atomic.folder_lock(site, LOCK_NAME, busy=busy):
        atomic.remove_stale_temps(site)
        return _build_locked(render_dirs, site, settings, base_url, moment, say)


def _build_locked(
    render_dirs: Sequence[Path],
    site: Path,
    settings: SiteSettings,
    base_url: str,
    now: datetime,
    say: Callable[[str], None],
) -> SiteReport:
    registry = load_registry(site)
    feed_url = site_url(base_url, FEED_NAME)
    channel_guid = podcast_guid(feed_url)
    records = [read_record(Path(folder)) for folder in render_dirs]
    slugs = [_episode_slug(r) for r in records]
    for slug in {s for s in slugs if slugs.count(s) > 1}:
        folders = ", ".join(str(r.folder) for r, s in zip(records, slugs, strict=True) if s == slug)
        raise InputError(f"two render folders have the slug {slug!r} ({folders}); give each book its own slug")
    if not records and not registry.episodes:
        raise InputError("no episodes to publish: render a summary first (`nlmg-media render`) or name render folders")

    copied = 0
    added: list[str] = []
    for record, slug in zip(records, slugs, strict=True):
        say(f"episode {slug}")
        files, count = _copy_episode_files(record, slug, site, say)
        copied += count
        if slug not in registry.episodes:
            added.append(slug)
        data = record.data
        registry.record(
            slug=slug,
            channel_guid=channel_guid,
            title=_episode_title(data),
            description=str(data.get("description") or ""),
            book={k: data[k] for k in ("title", "author", "year") if data.get(k) is not None},
            duration=_duration(data, record.folder, files, site),
            chapters=[
                {"title": str(c.get("title", "")), "start": float(c.get("start", 0.0))}
                for c in data.get("chapters", [])
                if isinstance(c, dict)
            ],
            files=files,
            now=now,
        )

    episodes = registry.ordered()
    warnings: list[str] = []
    title = settings.title or _default_title(episodes, settings.author)
    if not settings.title:
        warnings.append(f"no --title given: the show is called {title!r}")
    if not settings.email:
        warnings.append("no --email given: the feed has no itunes:owner; Apple and Spotify need one to verify the show")
    cover_note = _channel_cover(site, settings.cover, episodes, settings.title, settings.author)
    if cover_note:
        warnings.append(cover_note)
    channel = Channel(
        base_url=base_url,
        title=title,
        description=settings.description or _default_description(episodes),
        image_path=CHANNEL_COVER,
        category=settings.category,
        language=settings.language,
        author=settings.author,
        email=settings.email,
        explicit=settings.explicit,
        locked=settings.locked,
    )
    say("feed.xml")
    write_feed(site, channel, episodes)
    videos = read_curated_videos(settings.videos) if settings.videos else []
    say("index.html")
    atomic.write_text(site / INDEX_NAME, render_index(channel, episodes, site, videos))
    registry.channel = {"podcast_guid": channel.guid, "feed_url": channel.feed_url, "title": channel.title}
    save_registry(site, registry, base_url)
    return SiteReport(
        site=site,
        feed_url=channel.feed_url,
        title=title,
        episodes=tuple(e.slug for e in episodes),
        added=tuple(added),
        copied=copied,
        warnings=tuple(warnings),
    )


# ------------------------------------------------------------------------------------------ episode files


def _episode_slug(record: RenderRecord) -> str:
    raw = str(record.data.get("slug") or record.folder.name)
    slug = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    if not slug:
        raise InputError(f"{record.folder / RECORD_NAME}: the slug {raw!r} has no letters or digits")
    return slug


def _episode_title(data: dict[str, Any]) -> str:
    title = str(data.get("title") or "Untitled")
    author = data.get("author")
    return f"{title} by {author}" if author else title


def _copy_episode_files(
    record: RenderRecord, slug: str, site: Path, say: Callable[[str], None]
) -> tuple[dict[str, dict[str, Any]], int]:
    """Copy the render's publishable files into ``episodes/<slug>/``; return their registry entries."""
    if not record.file("narration"):
        raise InputError(f"{record.folder / RECORD_NAME} lists no narration file (re-run `nlmg-media render`)")
    files: dict[str, dict[str, Any]] = {}
    copied = 0
    for role, (site_role, pattern) in _EPISODE_FILES.items():
        source = record.file(role)
        if source is None:
            continue
        if not source.is_file():
            raise InputError(f"{source} is listed in {record.folder / RECORD_NAME} but missing (re-run render)")
        relative = f"episodes/{slug}/{pattern.format(slug=slug)}"
        target = site / relative
        digest = sha256_file(source)
        if not (target.is_file() and target.stat().st_size == source.stat().st_size and sha256_file(target) == digest):
            say(f"  copy {relative}")
            with atomic.atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
            copied += 1
        entry: dict[str, Any] = {
            "path": relative,
            "bytes": target.stat().st_size,
            "sha256": digest,
            "mime": mime(target.name),
        }
        if site_role == "cover":
            entry["artwork_ok"] = artwork_problem(target) is None
        files[site_role] = entry
    return files, copied


def _duration(data: dict[str, Any], folder: Path, files: dict[str, dict[str, Any]], site: Path) -> float:
    value = data.get("duration")
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    # Older or hand-made render.json without a duration: read it from the MP3 itself.
    from mutagen.mp3 import MP3, HeaderNotFoundError

    audio = site / files["audio"]["path"]
    try:
        info = MP3(audio).info
        if info is None:
            raise HeaderNotFoundError("no MPEG frames")
        return float(info.length)
    except (HeaderNotFoundError, OSError) as exc:
        raise InputError(
            f"cannot read the duration of {audio} ({exc}); re-run `nlmg-media render` in {folder}"
        ) from exc


# ------------------------------------------------------------------------------------------------ artwork


def artwork_problem(path: Path) -> str | None:
    """Why ``path`` is not valid podcast art (square JPEG/PNG, RGB, 1400–3000 px), or ``None`` if it is."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            kind, mode, (width, height) = image.format, image.mode, image.size
    except (OSError, UnidentifiedImageError):
        return "not a readable image"
    if kind not in ("JPEG", "PNG"):
        return f"{kind} is not JPEG or PNG"
    if mode not in ("RGB", "L", "P", "RGBA") or mode == "RGBA" and kind == "JPEG":
        return f"colour mode {mode} (Apple wants RGB)"
    if width != height:
        return f"{width}×{height} is not square"
    if not ARTWORK_MIN <= width <= ARTWORK_MAX:
        return f"{width}×{height} is outside {ARTWORK_MIN}–{ARTWORK_MAX} px"
    return None


def _channel_cover(
    site: Path, user_cover: Path | None, episodes: Sequence[EpisodeRecord], title: str | None, author: str | None
) -> str | None:
    """Write ``site/cover.jpg``: the user's art, else the oldest episode's cover, else a generated one."""
    target = site / CHANNEL_COVER
    if user_cover is not None:
        problem = artwork_problem(user_cover)
        if problem:
            raise InputError(f"cover {user_cover}: {problem}; podcast art must be a square JPEG or PNG of 1400–3000 px")
        _write_if_changed(target, _as_jpeg(user_cover))
        return None
    for record in sorted(episodes, key=lambda e: (e.first_published, e.slug)):
        cover = record.files.get("cover")
        if cover and cover.get("artwork_ok") and (site / cover["path"]).is_file():
            _write_if_changed(target, _as_jpeg(site / cover["path"]))
            return None
    # The same drawing as the episode covers (pipeline.pictures.cover), with the show's title on it.
    # Short words fit the art best: the show's title if the user gave one, else the one book's title.
    from pipeline.pictures.cover import CoverText, draw_cover

    if title:
        words = CoverText(title=title, author=author, tagline="one-page book summaries")
    elif len(episodes) == 1 and episodes[0].book.get("title"):
        words = CoverText(title=str(episodes[0].book["title"]), author=author, tagline="one-page summaries")
    else:
        words = CoverText(title="One-page book summaries", author=author, tagline="a podcast")
    _write_if_changed(target, draw_cover(words))
    return f"no square 1400–3000 px cover found: generated {target} (give your own with --cover)"


def _as_jpeg(path: Path) -> bytes:
    """The file's bytes when it is already an RGB JPEG; otherwise a re-encoded RGB JPEG."""
    from PIL import Image

    with Image.open(path) as image:
        if image.format == "JPEG" and image.mode == "RGB":
            return Path(path).read_bytes()
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=92)
        return buffer.getvalue()


def _write_if_changed(target: Path, data: bytes) -> None:
    if not (target.is_file() and target.read_bytes() == data):
        atomic.write_bytes(target, data)


# ----------------------------------------------------------------------------------------------- defaults


def _default_title(episodes: Sequence[EpisodeRecord], author: str | None) -> str:
    if len(episodes) == 1 and episodes[0].book.get("title"):
        return f"{episodes[0].book['title']} — one-page summaries"
    return f"One-page book summaries by {author}" if author else "One-page book summaries"


def _default_description(episodes: Sequence[EpisodeRecord]) -> str:
    books = [str(e.book["title"]) for e in episodes if e.book.get("title")]
    listing = f" Episodes so far: {', '.join(books)}." if books else ""
    return f"Narrated one-page summaries of books, each with chapters and a full transcript.{listing}"


# ----------------------------------------------------------------------------------------- curated videos


def read_curated_videos(path: Path) -> list[PlaylistVideo]:
    """The playable videos of a JSPF playlist written by ``nlmg-media videos`` (status ``ok`` only)."""
    try:
        data = json.loads(Path(path).read_text("utf-8"))
        tracks = data["playlist"].get("track", [])
        if not isinstance(tracks, list):
            raise TypeError("track is not a list")
    except FileNotFoundError as exc:
        raise InputError(
            f"curated video playlist not found: {path} (run `nlmg-media videos` or drop --videos)"
        ) from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"unreadable curated video playlist {path}: {exc}") from exc
    videos = []
    for track in tracks:
        if not isinstance(track, dict):
            continue
        extension = track.get("extension") or {}
        meta = (extension.get("urn:nlmg-media:video") or [{}]) if isinstance(extension, dict) else [{}]
        meta = meta[0] if isinstance(meta, list) and meta else meta  # JSPF allows a list per extension key
        if not isinstance(meta, dict) or meta.get("status", "ok") != "ok":
            continue
        location = track.get("location")
        location = location[0] if isinstance(location, list) and location else location
        url = _web_url(location)
        if not url:
            continue  # an unplayable or non-web link is not worth a broken entry on the page
        duration = track.get("duration")
        videos.append(
            PlaylistVideo(
                title=str(track.get("title") or url),
                url=url,
                creator=str(track.get("creator") or meta.get("channel") or ""),
                duration=duration / 1000 if isinstance(duration, (int, float)) and duration > 0 else None,
                image=_web_url(track.get("image")),
                annotation=str(track.get("annotation") or ""),
            )
        )
    return videos


def _web_url(value: Any) -> str | None:
    """``value`` if it is an absolute http(s) URL; anything else (``javascript:``, ``data:``) is dropped."""
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


# ----------------------------------------------------------------------------------------------- the page


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _transcript_sections(site: Path, record: EpisodeRecord) -> list[tuple[str, list[tuple[float, str]]]]:
    """Transcript segments grouped under the chapter they fall in: ``[(chapter title, [(start, text)])]``."""
    entry = record.files.get("transcript")
    if not entry:
        return []
    try:
        segments = json.loads((site / entry["path"]).read_text("utf-8")).get("segments", [])
    except (OSError, ValueError, AttributeError):
        return []
    starts = [(float(c.get("start", 0)), str(c.get("title", ""))) for c in record.chapters] or [(0.0, "")]
    sections: list[tuple[str, list[tuple[float, str]]]] = [(title, []) for _, title in starts]
    for segment in segments:
        if not isinstance(segment, dict) or not str(segment.get("body", "")).strip():
            continue
        start = float(segment.get("startTime", 0))
        index = max((i for i, (s, _) in enumerate(starts) if s <= start + 1e-3), default=0)
        sections[index][1].append((start, str(segment["body"]).strip()))
    return [s for s in sections if s[1]]


def _episode_article(site: Path, record: EpisodeRecord) -> str:
    files = record.files
    slug = _esc(record.slug)

    def src(role: str) -> str:
        return _esc(quote(files[role]["path"]))

    published = record.first_published
    meta = [f"{published.day} {published:%B %Y}", clock(record.duration)]
    if record.book.get("year"):
        meta.append(f"book from {record.book['year']}")
    cover = ""
    if "cover" in files:
        cover = f'<img class="art" src="{src("cover")}" alt="" width="112" height="112" loading="lazy">'
    track = ""
    if "captions_vtt" in files:
        track = f'<track kind="captions" src="{src("captions_vtt")}" srclang="en" label="Captions" default>'
    parts = [
        f'<article class="episode" id="{slug}">',
        f'<div class="head">{cover}<div><h2>{_esc(record.title)}</h2>',
        f'<p class="meta">{" · ".join(_esc(m) for m in meta)}</p></div></div>',
    ]
    if record.description:
        parts.append(f'<p class="summary">{_esc(record.description)}</p>')
    parts.append(f'<audio controls preload="metadata" src="{src("audio")}"></audio>')
    if record.chapters:
        items = "".join(
            f'<li><button type="button" data-seek="{float(c["start"]):.3f}">'
            f'<span class="t">{clock(float(c["start"]))}</span> {_esc(c["title"])}</button></li>'
            for c in record.chapters
        )
        parts.append(f'<h3>Chapters</h3><ol class="chapters">{items}</ol>')
    sections = _transcript_sections(site, record)
    if sections:
        body = "".join(
            (f"<h4>{_esc(title)}</h4>" if title else "")
            + "<p>"
            + " ".join(f'<span data-seek="{start:.3f}">{_esc(text)}</span>' for start, text in segments)
            + "</p>"
            for title, segments in sections
        )
        parts.append(f'<details class="transcript"><summary>Transcript</summary>{body}</details>')
    if "video_landscape" in files:
        poster = f' poster="{src("cover")}"' if "cover" in files else ""
        parts.append(
            f'<details class="video"><summary>Watch the video</summary>'
            f'<video controls preload="none"{poster} src="{src("video_landscape")}">{track}</video></details>'
        )
    downloads = [("audio", "MP3"), ("captions_vtt", "Captions (VTT)"), ("captions_srt", "Captions (SRT)"),
                 ("transcript", "Transcript (JSON)"), ("chapters", "Chapters (JSON)"), ("video_landscape", "Video"),
                 ("video_portrait", "Video (portrait)"), ("video_square", "Video (square)")]  # fmt: skip
    links = " · ".join(f'<a href="{src(role)}">{label}</a>' for role, label in downloads if role in files)
    parts.append(f'<p class="files">Download: {links}</p></article>')
    return "\n".join(parts)


def _curated_section(videos: Sequence[PlaylistVideo]) -> str:
    if not videos:
        return ""
    items = []
    for video in videos:
        url = _esc(video.url)
        thumb = (
            f'<a class="thumb" href="{url}" rel="noopener noreferrer"><img src="{_esc(video.image)}" alt="" '
            f'loading="lazy" referrerpolicy="no-referrer"></a>'
            if video.image
            else ""
        )
        meta = " · ".join(_esc(m) for m in (video.creator, clock(video.duration) if video.duration else "") if m)
        note = f"<p>{_esc(video.annotation)}</p>" if video.annotation else ""
        items.append(
            f'<li>{thumb}<div><a href="{url}" rel="noopener noreferrer">{_esc(video.title)}</a>'
            f"{f'<p class=meta>{meta}</p>' if meta else ''}{note}</div></li>"
        )
    return f'<section class="curated"><h2>More to watch</h2><ul>{"".join(items)}</ul></section>'


def render_index(
    channel: Channel, episodes: Sequence[EpisodeRecord], site: Path, videos: Sequence[PlaylistVideo]
) -> str:
    """The site's ``index.html``: show header with subscribe link, one article per episode, curated videos."""
    feed_url = _esc(channel.feed_url)
    title = _esc(channel.title)
    author = f'<p class="by">{_esc(channel.author)}</p>' if channel.author else ""
    articles = "\n".join(_episode_article(site, e) for e in episodes)
    return f"""<!doctype html>
<html lang="{_esc(channel.language)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<meta name="description" content="{_esc(channel.description)}">
<link rel="alternate" type="application/rss+xml" title="{title}" href="{FEED_NAME}">
<style>{_STYLE}</style>
</head>
<body>
<header class="show">
<img class="art" src="{CHANNEL_COVER}" alt="" width="168" height="168">
<div>
<h1>{title}</h1>
{author}<p>{_esc(channel.description)}</p>
<p class="subscribe"><a class="button" href="{FEED_NAME}">Subscribe</a>
<span>Add this feed to your podcast app: <code>{feed_url}</code></span></p>
</div>
</header>
<main>
{articles}
{_curated_section(videos)}
</main>
<footer>{len(episodes)} episode{"" if len(episodes) == 1 else "s"} · <a href="{FEED_NAME}">RSS feed</a> ·
made with nlmg-media</footer>
<script>{_SCRIPT}</script>
</body>
</html>
"""


_STYLE = """
:root{--ink:#182130;--muted:#5b6573;--line:#e3ddd2;--accent:#b5651d;--bg:#fbf8f3}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:17px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif}
header.show,main,footer{max-width:46rem;margin:0 auto;padding:0 1.25rem}
header.show{display:flex;gap:1.5rem;align-items:flex-start;padding-top:2.5rem;padding-bottom:1.5rem}
header.show .art{border-radius:10px;box-shadow:0 4px 18px rgba(0,0,0,.18);flex:none}
h1{font-size:1.9rem;line-height:1.2;margin:.2rem 0 .3rem}
h2{font-size:1.35rem;line-height:1.25;margin:0 0 .2rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem;color:var(--muted);text-transform:uppercase;letter-spacing:.06em}
h4{margin:1rem 0 .2rem;font-size:1rem}
p{margin:.4rem 0}
.by,.meta{color:var(--muted);margin:.1rem 0}
.subscribe{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center;font-size:.92rem;color:var(--muted)}
.subscribe span{flex-basis:100%}
.button{background:var(--accent);color:#fff;padding:.45rem 1rem;border-radius:999px;text-decoration:none;
  font-weight:600}
code{font-size:.85rem;background:#fff;border:1px solid var(--line);border-radius:4px;padding:.1rem .35rem;
  overflow-wrap:anywhere}
article.episode{background:#fff;border:1px solid var(--line);border-radius:12px;padding:1.4rem;margin:1.2rem 0}
.head{display:flex;gap:1rem;align-items:center}
.head .art{border-radius:8px;flex:none}
.summary{margin-top:1rem}
audio,video{width:100%;margin-top:.8rem}
video{aspect-ratio:16/9;background:#000}
ol.chapters{list-style:none;padding:0;margin:0}
ol.chapters button{all:unset;cursor:pointer;display:block;width:100%;padding:.3rem .5rem;border-radius:6px}
ol.chapters button:hover,ol.chapters button:focus-visible{background:#f3ede3}
ol.chapters button.now{background:#f6e6d3;font-weight:600}
.t{display:inline-block;min-width:3.5rem;color:var(--accent);font-variant-numeric:tabular-nums}
details{margin-top:1rem;border-top:1px solid var(--line);padding-top:.6rem}
summary{cursor:pointer;font-weight:600}
.transcript span{cursor:pointer;border-radius:3px}
.transcript span:hover{background:#f6e6d3}
.files{font-size:.9rem;color:var(--muted);margin-top:1rem}
a{color:var(--accent)}
.curated ul{list-style:none;padding:0}
.curated li{display:flex;gap:1rem;padding:.7rem 0;border-bottom:1px solid var(--line)}
.curated .thumb img{width:9rem;aspect-ratio:16/9;object-fit:cover;border-radius:6px;background:#e9e3d8;display:block}
.curated li p{font-size:.92rem}
footer{color:var(--muted);font-size:.85rem;padding-top:1rem;padding-bottom:3rem}
@media (max-width:560px){header.show{flex-direction:column}header.show .art{width:128px;height:128px}}
"""

# Chapter buttons and transcript lines carry data-seek (seconds): a click seeks that episode's player.
_SCRIPT = """
document.addEventListener('click', function (event) {
  var target = event.target.closest('[data-seek]');
  if (!target) return;
  var player = target.closest('article').querySelector('audio');
  player.currentTime = parseFloat(target.dataset.seek);
  player.play();
});
document.querySelectorAll('article.episode audio').forEach(function (player) {
  var buttons = player.closest('article').querySelectorAll('ol.chapters button');
  player.addEventListener('timeupdate', function () {
    var current = null;
    buttons.forEach(function (b) { if (parseFloat(b.dataset.seek) <= player.currentTime + 0.05) current = b; });
    buttons.forEach(function (b) { b.classList.toggle('now', b === current); });
  });
});
"""
