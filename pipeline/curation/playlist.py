"""Views of the video manifest: ``playlist.jspf``, ``playlist.m3u8`` and ``index.html``, written atomically.

- JSPF (XSPF in JSON, https://xspf.org/jspf): every approved video, whatever its status. ``location`` and
  ``identifier`` are arrays as the spec has them; ``duration`` is in milliseconds; ``annotation`` is the
  curator's note; ``track[].extension["urn:nlmg-media:video"]`` is one object holding the manifest entry
  (kind, status, checked_at, last_ok_at, error, id, extractor, channel, upload_date, view_count, description,
  chapters, …) — one object rather than the spec's array of bodies, as ListenBrainz's JSPF does.
- M3U8 (extended M3U, UTF-8): approved videos whose status is ``ok`` only, ``#EXTINF:seconds,title`` then URL.
- HTML: one self-contained page grouped by kind, with thumbnails, titles, channels, durations and notes;
  videos that are gone are marked, ones that could not be checked say so.

Every piece of third-party text is untrusted: it is escaped for the format it enters (``json`` for JSPF,
``html.escape`` for HTML, one clean line for M3U8), and only http(s) URLs reach a link, an image or a playlist
line. The page carries no script and a Content-Security-Policy that forbids any.
"""

from __future__ import annotations

import html
import json
import re
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline import atomic
from pipeline.curation.manifest import KINDS, PERMANENT_FAILURES, Manifest, VideoEntry, manifest_path
from pipeline.curation.ytdlp import tidy_line
from pipeline.times import clock

JSPF_NAME = "playlist.jspf"
M3U8_NAME = "playlist.m3u8"
HTML_NAME = "index.html"
JSPF_EXTENSION = "urn:nlmg-media:video"

KIND_HEADINGS = {
    "summary": "Summaries",
    "interview": "Interviews",
    "commentary": "Commentary and analysis",
    "adaptation": "The film and other adaptations",
    "other": "More",
}
STATUS_LABELS = {
    "ok": "Available",
    "private": "Unavailable: made private",
    "removed": "Unavailable: removed",
    "unavailable": "Unavailable",
    "geo_blocked": "Unavailable in some countries",
    "age_restricted": "Age-restricted: sign-in needed",
    "rate_limited": "Not checked: the site asked us to slow down",
    "unreachable": "Not checked: the site could not be reached",
    "error": "Not checked: metadata could not be read",
}


def write_playlist_files(manifest: Manifest, out_dir: Path) -> dict[str, Path]:
    """Write the three views of ``manifest`` into ``out_dir``; return their paths by role."""
    out_dir = Path(out_dir)
    files = {"jspf": out_dir / JSPF_NAME, "m3u8": out_dir / M3U8_NAME, "html": out_dir / HTML_NAME}
    atomic.write_text(files["jspf"], json.dumps(jspf_document(manifest), indent=2, ensure_ascii=False) + "\n")
    atomic.write_text(files["m3u8"], m3u8_text(manifest))
    atomic.write_text(files["html"], html_page(manifest))
    return files


# ---------------------------------------------------------------------------------------------------- JSPF


def jspf_document(manifest: Manifest) -> dict[str, Any]:
    """The JSPF object; keys with no value are left out (JSPF has no nulls)."""
    playlist: dict[str, Any] = {"title": manifest.title, "creator": "nlmg-media"}
    if manifest.refreshed_at:
        playlist["date"] = manifest.refreshed_at
    playlist["track"] = [_jspf_track(entry) for entry in manifest.approved]
    return {"playlist": playlist}


def _jspf_track(entry: VideoEntry) -> dict[str, Any]:
    location = safe_url(entry.location)
    track: dict[str, Any] = {
        "location": [location] if location else [],
        "identifier": [_identifier(entry)],
        "title": entry.display_title,
        "creator": entry.creator,
        "duration": round(entry.duration * 1000) if entry.duration is not None else None,
        "image": safe_url(entry.thumbnail),
        "annotation": entry.note or None,
        "extension": {JSPF_EXTENSION: entry.to_json()},
    }
    return {key: value for key, value in track.items() if value not in (None, [])}


def _identifier(entry: VideoEntry) -> str:
    """A stable URI for the video: extractor and id when yt-dlp gave them (survives URL variants), else the URL."""
    if entry.extractor and entry.id:
        quoted = urllib.parse.quote(f"{entry.extractor.lower()}:{entry.id}", safe=":")
        return f"{JSPF_EXTENSION}:{quoted}"
    return safe_url(entry.url) or entry.url


# ---------------------------------------------------------------------------------------------------- M3U8


def m3u8_text(manifest: Manifest) -> str:
    """Extended M3U with the playable (``ok``) approved videos."""
    lines = ["#EXTM3U", f"#PLAYLIST:{one_line(manifest.title)}"]
    for entry in manifest.approved:
        location = safe_url(entry.location)
        if entry.status != "ok" or location is None:
            continue
        seconds = round(entry.duration) if entry.duration is not None else -1
        lines.append(f"#EXTINF:{seconds},{one_line(entry.display_title)}")
        lines.append(location)
    return "\n".join(lines) + "\n"


def one_line(text: str | None) -> str:
    """Text that cannot break a line-based format: no line breaks or control characters, trimmed."""
    return tidy_line(text) or ""


def safe_url(url: str | None) -> str | None:
    """``url`` if it is a plain http(s) URL (no whitespace, no control characters), else ``None``.

    This is what keeps ``javascript:`` links out of the page and stray lines out of the M3U8.
    """
    if not url or re.search(r"[\s\x00-\x1f\x7f]", url):
        return None
    parts = urllib.parse.urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


# ---------------------------------------------------------------------------------------------------- HTML

_STYLE = """
:root { color-scheme: light dark; --muted: #666; --card: #f6f5f2; --accent: #7a4b2a; }
@media (prefers-color-scheme: dark) { :root { --muted: #aaa; --card: #222; --accent: #e0a878; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 72rem; padding: 1.5rem; font: 16px/1.5 system-ui, sans-serif; }
header p, footer { color: var(--muted); }
h1 { font-size: 1.8rem; margin: 0 0 .25rem; }
h2.kind { font-size: 1.3rem; margin: 2rem 0 .75rem; border-bottom: 1px solid var(--muted); }
ol.videos { list-style: none; padding: 0; margin: 0; display: grid; gap: 1rem;
  grid-template-columns: repeat(auto-fill, minmax(20rem, 1fr)); }
li.video { background: var(--card); border-radius: .5rem; overflow: hidden; display: flex;
  flex-direction: column; }
li.video.gone { opacity: .55; }
.thumb { position: relative; display: block; aspect-ratio: 16 / 9; background: #0002; }
.thumb img { width: 100%; height: 100%; object-fit: cover; display: block; }
.duration { position: absolute; right: .4rem; bottom: .4rem; background: #000c; color: #fff;
  font-size: .8rem; padding: 0 .35rem; border-radius: .25rem; }
.body { padding: .75rem 1rem 1rem; }
h3 { font-size: 1.05rem; margin: 0 0 .25rem; line-height: 1.3; }
h3 a { color: inherit; }
.meta { color: var(--muted); font-size: .9rem; margin: 0; }
.note { margin: .5rem 0 0; }
.badge { display: inline-block; font-size: .75rem; text-transform: uppercase; letter-spacing: .05em;
  color: var(--accent); }
.status { font-size: .85rem; font-weight: 600; margin: .5rem 0 0; }
details { font-size: .9rem; margin-top: .5rem; }
details ol { padding-left: 1.2rem; margin: .25rem 0; }
.time { font-variant-numeric: tabular-nums; color: var(--muted); margin-right: .4rem; }
"""


def html_page(manifest: Manifest) -> str:
    """A page a person browses: approved videos grouped by kind, unavailable ones marked."""

    approved = manifest.approved
    available = sum(1 for entry in approved if entry.status == "ok")
    title = _h(manifest.title)
    checked = f" · checked {_h(manifest.refreshed_at[:10])}" if manifest.refreshed_at else ""
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src http: https: data:; '
        "style-src 'unsafe-inline'\">",
        '<meta name="referrer" content="no-referrer">',
        f"<title>{title}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<header><h1>{title}</h1><p>{available} of {len(approved)} videos available{checked}</p></header>",
        "<main>",
    ]
    if not approved:
        parts.append(
            # The page is published with the site: words for a listener, not commands for the curator.
            "<p>No videos have been chosen for this book yet.</p>"
        )
    for kind in KINDS:
        group = [entry for entry in approved if entry.kind == kind]
        if not group:
            continue
        parts.append(f'<section class="kind-{kind}"><h2 class="kind">{_h(KIND_HEADINGS[kind])}</h2>')
        parts.append('<ol class="videos">')
        parts.extend(_html_card(entry, entry.status in PERMANENT_FAILURES) for entry in group)
        parts.append("</ol></section>")
    parts += [
        "</main>",
        "<footer><p>Video details gathered with yt-dlp; titles, thumbnails and descriptions belong to their "
        "creators.</p></footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _html_card(entry: VideoEntry, gone: bool) -> str:
    link = safe_url(entry.location)
    thumb = safe_url(entry.thumbnail)
    classes = f"video status-{entry.status}" + (" gone" if gone else "")
    out = [f'<li class="{_h(classes)}">']
    if thumb or entry.duration is not None:
        image = f'<img src="{_h(thumb)}" alt="" loading="lazy" width="320" height="180">' if thumb else ""
        length = f'<span class="duration">{_h(clock(entry.duration))}</span>' if entry.duration else ""
        if link and not gone:
            out.append(f'<a class="thumb" href="{_h(link)}" rel="noopener noreferrer">{image}{length}</a>')
        else:
            out.append(f'<div class="thumb">{image}{length}</div>')
    out.append('<div class="body">')
    out.append(f'<span class="badge">{_h(entry.kind)}</span>')
    title = _h(entry.display_title)
    if link and not gone:
        out.append(f'<h3><a href="{_h(link)}" rel="noopener noreferrer">{title}</a></h3>')
    else:
        out.append(f"<h3>{title}</h3>")
    meta = _join(
        [
            entry.creator,
            clock(entry.duration) if entry.duration else None,
            entry.upload_date,
            f"{entry.view_count:,} views" if entry.view_count is not None else None,
        ]
    )
    if meta:
        out.append(f'<p class="meta">{meta}</p>')
    if entry.note:
        out.append(f'<p class="note">{_h(entry.note)}</p>')
    if entry.status != "ok":
        since = f" (last seen {_h(entry.last_ok_at[:10])})" if entry.last_ok_at else ""
        out.append(f'<p class="status">{_h(STATUS_LABELS.get(entry.status, entry.status))}{since}</p>')
    if entry.chapters:
        out.append(f"<details><summary>Chapters ({len(entry.chapters)})</summary><ol>")
        out.extend(
            f'<li><span class="time">{_h(clock(chapter.start))}</span>{_h(chapter.title)}</li>'
            for chapter in entry.chapters
        )
        out.append("</ol></details>")
    if entry.description:
        out.append(f"<details><summary>Description</summary><p>{_h(entry.description)}</p></details>")
    out.append("</div></li>")
    return "\n".join(out)


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _join(items: Iterable[str | None]) -> str:
    return " · ".join(_h(item) for item in items if item)


def write_outputs(manifest: Manifest, out_dir: Path) -> dict[str, Path]:
    """Write the manifest and its views (JSPF, M3U8, HTML) atomically; return them by role."""
    out_dir = Path(out_dir)
    atomic.write_json(manifest_path(out_dir), manifest.to_json())
    files = {"manifest": manifest_path(out_dir)}
    files.update(write_playlist_files(manifest, out_dir))
    return files
