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
import io
import json
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
    email_problem,
    normalise_base_url,
    parse_category,
    write_feed,
)
from pipeline.publishing.pages import (
    COVER_WIDTHS,
    STATIC_FOLDER,
    PageContext,
    PlaylistVideo,
    episode_folder,
    render_episode_page,
    render_show_page,
)
from pipeline.publishing.registry import EpisodeRecord, load_registry, save_registry, site_url
from pipeline.record import RECORD_NAME, RENDER_LOCK, RenderRecord, read_record

INDEX_NAME = "index.html"
CHANNEL_COVER = "cover.jpg"
STATIC_FILES = ("site.css", "player.js")
VIDEOS_FOLDER = "videos"
PLAYLIST_FILES = ("index.html", "playlist.jspf", "playlist.m3u8")
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
