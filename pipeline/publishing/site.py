"""The static site: episode files, channel art, ``feed.xml``, ``episodes.json`` and ``index.html`` in one folder.

Layout (default ``output/site/``)::

    index.html  feed.xml  feed.xsl  episodes.json  cover.jpg  favicon.png  apple-touch-icon.png
    art/cover-{160,320,640}.jpg                      the show's art resized for the pages
    static/site.css  static/player.js                the player (plain JavaScript, no build step, no CDN)
    episodes/<slug>/index.html                       the episode's page: its stable URL, the feed's <link>
    episodes/<slug>/<slug>.mp3  captions.vtt  captions.srt  chapters.json  transcript.json  timeline.json
                    cover.jpg  cover-{160,320,640}.jpg  <slug>.mp4  <slug>-portrait.mp4  <slug>-square.mp4
    videos/index.html  playlist.jspf  playlist.m3u8  the curated-video page, when there is one

``build_site`` reads each render folder's ``render.json``, copies the files that changed, records the episode
in the registry (keeping its GUID, number and first publish date), then writes the feed and the pages. The
episode page's transcript is built from ``timeline.json``: one span per spoken word with its start and end, so
the player highlights the word being spoken and a click on a word seeks there. Every piece of text that reaches
a page — book titles, summaries, third-party video titles — is HTML-escaped, and links from third parties are
kept only when they are http(s).
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from pipeline import atomic
from pipeline.cache import sha256_file
from pipeline.errors import InputError
from pipeline.media_types import mime
from pipeline.narration.document import book_identity, slug_problem, slugify
from pipeline.progress import Progress, ProgressEvent, quiet
from pipeline.publishing.feed import (
    DEFAULT_CATEGORY,
    FEED_NAME,
    FEED_STYLESHEET,
    Channel,
    EpisodeRecord,
    email_problem,
    episode_page,
    load_registry,
    normalise_base_url,
    parse_category,
    save_registry,
    site_url,
    voice_line,
    write_feed,
)
from pipeline.record import RECORD_NAME, RENDER_LOCK, RenderRecord, read_record
from pipeline.times import clock

INDEX_NAME = "index.html"
CHANNEL_COVER = "cover.jpg"
STATIC_FOLDER = "static"  # the site's own CSS and JavaScript, copied from pipeline/publishing/static/
STATIC_FILES = ("site.css", "player.js")
VIDEOS_FOLDER = "videos"
PLAYLIST_FILES = ("index.html", "playlist.jspf", "playlist.m3u8")
COVER_WIDTHS = (160, 320, 640)  # pixel widths of the covers the pages show (1x/2x of 72-192 CSS px, og:image)
FAVICON, TOUCH_ICON = ("favicon.png", 32), ("apple-touch-icon.png", 180)
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
    "timeline": ("timeline", "timeline.json"),
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

    _check_text_settings(settings)
    base_url = normalise_base_url(settings.base_url)
    parse_category(settings.category)  # fail before touching the site
    if settings.email and (problem := email_problem(settings.email)):
        raise InputError(f"--email {settings.email!r} {problem}")
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    site = Path(site)
    atomic.make_folder(site, "the site folder")

    busy = f"another `nlmg-media publish` is writing {site}; wait for it to finish"
    with atomic.folder_lock(site, LOCK_NAME, busy=busy), contextlib.ExitStack() as reading:
        atomic.remove_stale_temps(site, recursive=True)  # a killed publish's, anywhere in the site
        for folder in dict.fromkeys(Path(f) for f in render_dirs):
            reading.enter_context(_reading(folder, say))
        return _build_locked(render_dirs, site, settings, base_url, moment, say)


def _check_text_settings(settings: SiteSettings) -> None:
    """Text options must be text: bytes a terminal could not decode arrive as lone surrogates (PEP 383)."""
    for name in ("title", "description", "author", "email", "category", "language"):
        value = getattr(settings, name)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise InputError(f"--{name} is not valid UTF-8 text (byte {exc.start} of it)") from exc


@contextlib.contextmanager
def _reading(folder: Path, say: Callable[[str], None]) -> Iterator[None]:
    """Hold a render folder for reading: a render into it waits for us, and we wait for one in progress. A
    render killed while putting its files in place left a journal: finish its commit first (that needs the
    writers' lock) so what we read is one complete set."""
    if not folder.is_dir():
        yield  # reading the record says what is wrong
        return
    if (folder / atomic.JOURNAL_NAME).exists():
        with contextlib.suppress(OSError), atomic.folder_lock(folder, RENDER_LOCK):
            atomic.finish_commit(folder)
    with atomic.folder_lock(
        folder, RENDER_LOCK, shared=True, on_wait=lambda: say(f"waiting for the render into {folder} to finish")
    ):
        yield


def episode_folder(slug: str) -> str:
    """The site-relative folder of an episode's files and page, with a trailing slash."""
    return episode_page(slug)


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
    channel_guid, moved_from = registry.channel_guid(feed_url)
    records = [read_record(Path(folder)) for folder in render_dirs]
    slugs = [_episode_slug(r) for r in records]
    for slug in {s for s in slugs if slugs.count(s) > 1}:
        folders = ", ".join(str(r.folder) for r, s in zip(records, slugs, strict=True) if s == slug)
        raise InputError(f"two render folders have the slug {slug!r} ({folders}); give each book its own slug")
    for record, slug in zip(records, slugs, strict=True):  # before anything is copied into the site:
        for role in _EPISODE_FILES:  # every file a render.json names must be its own,
            record.file(role)
        _check_same_book(registry.episodes.get(slug), record.data, record)  # and a slug stays with its book
    if not records and not registry.episodes:
        raise InputError("no episodes to publish: render a summary first (`nlmg-media render`) or name render folders")

    copied = 0
    added: list[str] = []
    for record, slug in zip(records, slugs, strict=True):
        say(f"episode {slug}")
        files, count = _copy_episode_files(record, slug, site, say)
        copied += count
        data = record.data
        if slug not in registry.episodes:
            added.append(slug)
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
            voice={k: str(data[k]) for k in ("engine", "voice") if data.get(k)},
        )
    registry.number_episodes()

    episodes = registry.ordered()
    for episode in episodes:  # those not named again too: a feed entry must never point at nothing
        for role, entry in episode.files.items():
            if not (site / entry["path"]).is_file():
                raise InputError(
                    f"{site / entry['path']} ({role} of episode {episode.slug!r}) is missing from the site: publish "
                    "its render folder again, or restore the file"
                )
    warnings: list[str] = []
    if moved_from:
        warnings.append(
            f"the feed moved from {moved_from} to {feed_url}: the show keeps its podcast:guid {channel_guid} and "
            "every episode its GUID; redirect the old address (HTTP 301) so apps follow the move"
        )
    title = settings.title or _default_title(episodes, settings.author)
    if not settings.title:
        warnings.append(f"no --title given: the show is called {title!r}")
    if not settings.email:
        warnings.append(
            "no --email given: the feed has no itunes:owner and no podcast:locked (both need an owner address); "
            "Apple and Spotify need one to verify the show"
        )
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
        guid=channel_guid,
    )
    say("feed.xml")
    write_feed(site, channel, episodes)
    videos = read_curated_videos(settings.videos) if settings.videos else []
    videos_page = _copy_playlist_page(settings.videos, site) if settings.videos else False
    say("pages")
    _write_static_files(site)
    _write_resized_art(site, episodes)
    ctx = PageContext(channel, episodes, site, videos, videos_page)
    for episode in episodes:
        _write_text_if_changed(site / episode_folder(episode.slug) / INDEX_NAME, render_episode_page(ctx, episode))
    _write_text_if_changed(site / INDEX_NAME, render_show_page(ctx))
    registry.channel["title"] = channel.title
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
    return raw if _is_slug(raw) else slugify(raw)


def _is_slug(text: str) -> bool:
    problem = slug_problem(text)
    return problem is None or "reserved" in problem  # a reserved name is fine inside episodes/


def _check_same_book(old: EpisodeRecord | None, data: dict[str, Any], record: RenderRecord) -> None:
    """A slug already in the feed belongs to its book: another book under it would take over its GUID."""
    if old is None or not old.book.get("title"):
        return
    if book_identity(str(old.book["title"]), old.book.get("author")) == book_identity(
        str(data.get("title") or ""), data.get("author")
    ):
        return
    by = f" by {old.book['author']}" if old.book.get("author") else ""
    raise InputError(
        f"the feed's episode {old.slug!r} is {old.book['title']!r}{by}, but {record.folder / RECORD_NAME} is "
        f"{data.get('title')!r}: render it with its own --slug so it gets its own episode and GUID"
    )


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
        recorded = record.sha256(role)
        if recorded is not None and recorded != digest:
            raise InputError(
                f"{source} is not the file {record.folder / RECORD_NAME} describes (changed since that render); "
                "render again"
            )
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


def _write_text_if_changed(target: Path, text: str) -> None:
    _write_if_changed(target, text.encode("utf-8"))


def resized_image(source: Path, width: int, kind: str = "JPEG") -> bytes:
    """``source`` scaled to ``width`` px wide (never up), as a JPEG or PNG; the same input gives the same bytes."""
    from PIL import Image

    with Image.open(source) as image:
        image = image.convert("RGB")
        if image.width > width:
            height = max(1, round(image.height * width / image.width))
            image = image.resize((width, height), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        if kind == "PNG":
            image.save(buffer, "PNG", optimize=True)
        else:
            image.save(buffer, "JPEG", quality=84, optimize=True, progressive=True)
        return buffer.getvalue()


def _write_resized_art(site: Path, episodes: Sequence[EpisodeRecord]) -> None:
    """Covers at the sizes the pages show them (``srcset``), the favicon and the home-screen icon."""
    show_art = site / CHANNEL_COVER
    for width in COVER_WIDTHS:
        _write_if_changed(site / "art" / f"cover-{width}.jpg", resized_image(show_art, width))
    for name, width in (FAVICON, TOUCH_ICON):
        _write_if_changed(site / name, resized_image(show_art, width, "PNG"))
    for record in episodes:
        cover = record.files.get("cover")
        if cover and (site / cover["path"]).is_file():
            for width in COVER_WIDTHS:
                target = site / episode_folder(record.slug) / f"cover-{width}.jpg"
                _write_if_changed(target, resized_image(site / cover["path"], width))


def static_file(name: str) -> bytes:
    """One of the site's own assets shipped in the package (``site.css``, ``player.js``, ``feed.xsl``)."""
    from importlib import resources

    return resources.files("pipeline.publishing").joinpath("static", name).read_bytes()


def _write_static_files(site: Path) -> None:
    for name in STATIC_FILES:
        _write_if_changed(site / STATIC_FOLDER / name, static_file(name))
    _write_if_changed(site / FEED_STYLESHEET, static_file(FEED_STYLESHEET))


def _copy_playlist_page(playlist: Path, site: Path) -> bool:
    """Publish the curated-video page (``index.html`` beside the JSPF, written by ``nlmg-media videos``) under
    ``videos/``; ``False`` when there is no such page."""
    folder = Path(playlist).parent
    if not (folder / "index.html").is_file():
        return False
    for name in PLAYLIST_FILES:
        if (folder / name).is_file():
            _write_if_changed(site / VIDEOS_FOLDER / name, (folder / name).read_bytes())
    return True


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


# ----------------------------------------------------------------------------------------------- the pages


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
    book = record.book
    book_line = ""
    if book.get("title"):
        book_line = f"A one-page summary of <cite>{_esc(book['title'])}</cite>"
        if book.get("author"):
            book_line += f" by {_esc(book['author'])}"
        if book.get("year"):
            book_line += f" ({_esc(book['year'])})"
        book_line = f'<p class="by">{book_line}.</p>'
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
        f"<div><h1>{_esc(record.title)}</h1>{book_line}<p class=meta>{_episode_meta(record)}</p></div></div>",
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
