"""The episode registry (``episodes.json`` in the site): the show's identity and every episode ever published,
each with its GUID, number and first publish date recorded once and never changed."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pipeline import __version__, atomic
from pipeline.errors import InputError
from pipeline.times import iso_utc, parse_iso

REGISTRY_NAME = "episodes.json"
REGISTRY_SCHEMA = 1
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")


def podcast_guid(feed_url: str) -> str:
    """The Podcasting 2.0 ``podcast:guid`` of a feed URL (``podnews.net/rss`` → ``9b024349-…``)."""
    bare = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", feed_url.strip()).rstrip("/")
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, bare))


def episode_guid(channel_guid: str, slug: str) -> str:
    """A new episode's GUID; computed once, at first publish, then read back from the registry forever."""
    return str(uuid.uuid5(uuid.UUID(channel_guid), slug))


def site_url(base_url: str, relative_path: str) -> str:
    """The public URL of a file of the site (``relative_path`` uses forward slashes)."""
    return f"{base_url.rstrip('/')}/{quote(relative_path)}"


def _stamp(text: Any) -> datetime:
    """A stamp ``episodes.json`` must hold; anything else is a malformed registry (``ValueError``)."""
    moment = parse_iso(text)
    if moment is None:
        raise ValueError(f"not an ISO 8601 time: {text!r}")
    return moment


def _site_path(value: Any) -> bool:
    """A registry path is ``episodes/<slug>/<name>``: never absolute, never outside the site."""
    return (
        isinstance(value, str)
        and re.fullmatch(r"episodes/[a-z0-9-]+/[^/\\\x00]+", value) is not None
        and (value.rsplit("/", 1)[1] not in (".", ".."))
    )


@dataclass
class EpisodeRecord:
    """One published episode as ``episodes.json`` remembers it; ``files`` paths are relative to the site.

    ``guid`` and ``first_published`` are set once and never changed; ``updated`` moves when the episode's
    audio, title or description changes (it drives the feed's ``lastBuildDate``).
    """

    slug: str
    guid: str
    first_published: datetime
    updated: datetime
    title: str
    description: str
    book: dict[str, Any]
    duration: float
    chapters: list[dict[str, Any]]
    files: dict[str, dict[str, Any]]
    number: int = 0  # itunes:episode / podcast:episode: 1 for the first episode ever published, set once
    voice: dict[str, Any] = field(default_factory=dict)  # {"engine": …, "voice": …}: the synthetic narrator

    @property
    def audio(self) -> dict[str, Any]:
        return self.files["audio"]

    def to_json(self, base_url: str) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "guid": self.guid,
            "number": self.number,
            "first_published": iso_utc(self.first_published),
            "updated": iso_utc(self.updated),
            "title": self.title,
            "description": self.description,
            "book": self.book,
            "duration": self.duration,
            "chapters": self.chapters,
            "voice": self.voice,
            # The registry keeps the enclosure URL and size for readers of episodes.json; the URL is rebuilt from
            # the path and the current base URL on every publish, so moving the site keeps working.
            "enclosure": {
                "url": site_url(base_url, self.audio["path"]),
                "bytes": self.audio["bytes"],
                "type": self.audio["mime"],
            },
            "files": self.files,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> EpisodeRecord:
        """Raises ``KeyError``/``TypeError``/``ValueError`` naming what is missing or wrong."""
        files = value["files"]
        if not isinstance(files, Mapping) or "audio" not in files:
            raise KeyError(f"episode {value.get('slug')!r} has no audio file")
        for role, entry in files.items():
            if not isinstance(entry, Mapping) or not _site_path(entry.get("path")):
                raise ValueError(f"episode {value.get('slug')!r}: {role} is not a file of the site's episodes/ folder")
        audio = files["audio"]
        if not isinstance(audio.get("bytes"), int) or not isinstance(audio.get("mime"), str):
            raise KeyError(f"episode {value.get('slug')!r}: the audio file has no size or type")
        chapters = value.get("chapters", [])
        if not isinstance(chapters, list) or not all(isinstance(c, Mapping) for c in chapters):
            raise TypeError(f"episode {value.get('slug')!r}: chapters is not a list of chapters")
        return cls(
            slug=str(value["slug"]),
            guid=str(value["guid"]),
            first_published=_stamp(value["first_published"]),
            updated=_stamp(value.get("updated", value["first_published"])),
            title=str(value["title"]),
            description=str(value.get("description", "")),
            book=dict(value.get("book", {})),
            duration=float(value.get("duration", 0.0)),
            chapters=list(value.get("chapters", [])),
            files={str(k): dict(v) for k, v in value["files"].items()},
            number=int(value.get("number") or 0),
            voice=dict(value.get("voice") or {}),
        )


@dataclass
class EpisodeRegistry:
    """The contents of ``episodes.json``: channel facts worth keeping, and every episode ever published."""

    channel: dict[str, Any] = field(default_factory=dict)
    episodes: dict[str, EpisodeRecord] = field(default_factory=dict)

    def ordered(self) -> list[EpisodeRecord]:
        """Newest first (what Apple shows for an episodic show); ties broken by slug for stable output."""
        return sorted(self.episodes.values(), key=lambda e: (e.first_published, e.slug), reverse=True)

    def number_episodes(self) -> None:
        """Give episodes without a number (new ones, or a registry written before numbers) the next numbers,
        oldest first; a number once given never changes."""
        taken = max((e.number for e in self.episodes.values()), default=0)
        for record in sorted(self.episodes.values(), key=lambda e: (e.first_published, e.slug)):
            if record.number <= 0:
                taken += 1
                record.number = taken

    def channel_guid(self, feed_url: str) -> tuple[str, str | None]:
        """The show's ``podcast:guid`` (recorded at the first publish, else computed from ``feed_url`` now and
        recorded) and the feed URL it was last published at when that differs from ``feed_url``."""
        guid = self.channel.get("podcast_guid")
        previous = self.channel.get("feed_url")
        if not isinstance(guid, str) or not guid:
            guid = podcast_guid(feed_url)
            self.channel["podcast_guid"] = guid
            self.channel.setdefault("first_feed_url", feed_url)
        moved = previous if isinstance(previous, str) and previous and previous != feed_url else None
        self.channel["feed_url"] = feed_url
        return guid, moved

    def record(
        self,
        *,
        slug: str,
        channel_guid: str,
        title: str,
        description: str,
        book: dict[str, Any],
        duration: float,
        chapters: list[dict[str, Any]],
        files: dict[str, dict[str, Any]],
        now: datetime,
        voice: dict[str, Any] | None = None,
    ) -> EpisodeRecord:
        """Add or refresh an episode, keeping its GUID and first publish date if it was published before."""
        old = self.episodes.get(slug)
        if old is None:
            record = EpisodeRecord(
                slug, episode_guid(channel_guid, slug), now, now, title, description, book, duration, chapters, files
            )
            record.voice = dict(voice or {})
        else:
            changed = (
                old.audio.get("sha256") != files["audio"].get("sha256")
                or old.title != title
                or old.description != description
            )
            record = EpisodeRecord(
                slug=slug,
                guid=old.guid,
                first_published=old.first_published,
                updated=now if changed else old.updated,
                title=title,
                description=description,
                book=book,
                duration=duration,
                chapters=chapters,
                files=files,
                number=old.number,
                voice=dict(voice or old.voice),
            )
        self.episodes[slug] = record
        return record

    def to_json(self, base_url: str) -> dict[str, Any]:
        return {
            "schema": REGISTRY_SCHEMA,
            "generator": f"nlmg-media {__version__}",
            "channel": self.channel,
            "episodes": [e.to_json(base_url) for e in self.ordered()],
        }


def load_registry(site: Path) -> EpisodeRegistry:
    """Read ``site/episodes.json``; a missing file is an empty registry, a damaged one is an error."""
    path = Path(site) / REGISTRY_NAME
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return EpisodeRegistry()
    except (OSError, ValueError) as exc:
        raise InputError(
            f"unreadable episode registry {path}: {exc} (it keeps every episode's GUID and date: restore it from"
            " the published site rather than deleting it)"
        ) from exc
    try:
        if data.get("schema") != REGISTRY_SCHEMA:
            raise ValueError(f"unknown schema {data.get('schema')!r}")
        episodes = [EpisodeRecord.from_json(e) for e in data.get("episodes", [])]
        channel = dict(data.get("channel", {}))
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"episode registry {path} is malformed ({exc}); restore it from the published site") from exc
    return EpisodeRegistry(channel, {e.slug: e for e in episodes})


def save_registry(site: Path, registry: EpisodeRegistry, base_url: str) -> Path:
    path = Path(site) / REGISTRY_NAME
    atomic.write_json(path, registry.to_json(base_url))
    return path


def book_line(book: Mapping[str, Any], esc: Callable[[str], str], title_tag: str) -> str | None:
    """ "A one-page summary of <title> by Author (year)" as HTML (title in ``title_tag``), or None without a title.

    The show notes in the feed and the episode page both say it; ``esc`` is the escaping of the caller's format.
    """
    if not book.get("title"):
        return None
    line = f"A one-page summary of <{title_tag}>{esc(str(book['title']))}</{title_tag}>"
    if book.get("author"):
        line += f" by {esc(str(book['author']))}"
    if book.get("year"):
        line += f" ({esc(str(book['year']))})"
    return line
