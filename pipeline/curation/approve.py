"""Approving a candidate: it joins the curator's list (the TOML file, edited in place keeping comments) and the
manifest, as an approved video."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import tomli_w

from pipeline import atomic
from pipeline.curation.curated_list import (
    CuratedList,
    CuratedVideo,
    curated_list_from_data,
    is_http_url,
    load_curated_list,
)
from pipeline.curation.manifest import KINDS, Manifest, VideoEntry, load_manifest, manifest_path
from pipeline.curation.playlist import write_outputs
from pipeline.curation.refresh import output_lock
from pipeline.errors import ConfigError

# --------------------------------------------------------------------------------------------------------------
# Approve


def find_candidate(manifest: Manifest, id_or_url: str) -> VideoEntry | None:
    """The candidate whose id, curated URL or page URL is ``id_or_url``; ``ConfigError`` if several match."""
    matches = [entry for entry in manifest.candidates if id_or_url in (entry.id, entry.url, entry.webpage_url)]
    if len({entry.url for entry in matches}) > 1:
        urls = ", ".join(entry.url for entry in matches)
        raise ConfigError(f"{id_or_url!r} matches several candidates ({urls}); approve by URL instead")
    return matches[0] if matches else None


def approve_video(
    list_path: Path,
    out_dir: Path,
    id_or_url: str,
    *,
    kind: str | None = None,
    note: str | None = None,
) -> VideoEntry:
    """Move a discovery candidate (or any http(s) URL) into the curated list, keeping the file's comments.

    A candidate becomes an approved entry of the manifest at once (its outputs are rewritten) and is fully
    re-checked on the next refresh; a URL that is not a candidate is checked on the next refresh.
    """
    list_path, out_dir = Path(list_path), Path(out_dir)
    curated = load_curated_list(list_path)
    with output_lock(out_dir):
        return _approve(list_path, out_dir, curated, id_or_url, kind, note)


def _approve(
    list_path: Path, out_dir: Path, curated: CuratedList, id_or_url: str, kind: str | None, note: str | None
) -> VideoEntry:
    manifest = load_manifest(out_dir)
    candidate = find_candidate(manifest, id_or_url) if manifest else None
    if candidate is None and not is_http_url(id_or_url):
        where = manifest_path(out_dir)
        raise ConfigError(
            f"no candidate with id or URL {id_or_url!r} in {where}; run `nlmg-media videos refresh` first"
        )
    url = candidate.url if candidate else id_or_url
    if kind is not None and kind not in KINDS:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    kind = kind or (candidate.kind if candidate else "other")
    note = (note or "").strip()
    for video in curated.videos:
        if video.url == url or (candidate is not None and candidate.webpage_url == video.url):
            raise ConfigError(f"{url} is already approved in {list_path}")

    text = list_path.read_text(encoding="utf-8")
    new_video = CuratedVideo(url=url, kind=kind, note=note)
    atomic.write_text(list_path, _with_video_appended(list_path, text, curated, new_video))

    approved_entry = VideoEntry(url=url, role="approved", kind=kind, note=note, status="error")
    if candidate is not None and manifest is not None:
        # Search results carry partial metadata: checked_at None makes the next refresh fetch it all.
        approved_entry = replace(candidate, role="approved", kind=kind, note=note, query=None, checked_at=None)
        others = [entry for entry in manifest.entries if entry is not candidate]
        last_approved = max((i for i, entry in enumerate(others) if entry.role == "approved"), default=-1)
        others.insert(last_approved + 1, approved_entry)
        write_outputs(replace(manifest, entries=tuple(others)), out_dir)
    return approved_entry


_HEADER = re.compile(r"^\s*\[")
_VIDEO_HEADER = re.compile(r"^\s*\[\[\s*video\s*\]\]")
_SEARCH_HEADER = re.compile(r"^\s*\[\[\s*search\s*\]\]")


def _with_video_appended(path: Path, text: str, curated: CuratedList, video: CuratedVideo) -> str:
    """The list's text with one more ``[[video]]`` table after the last one (comments untouched).

    Placement is textual; the result is parsed back and must hold exactly the old videos plus the new one and
    the same searches, else the table goes at the end of the file (valid TOML either way).
    """
    record = {"url": video.url, "kind": video.kind}
    if video.note:
        record["note"] = video.note
    # tomli_w writes short arrays of tables inline; the header form is what the curator writes and expects.
    block = "[[video]]\n" + tomli_w.dumps(record)
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"

    def insertion_point() -> int:
        video_headers = [i for i, line in enumerate(lines) if _VIDEO_HEADER.match(line)]
        if video_headers:
            after = video_headers[-1] + 1
            nxt = next((i for i in range(after, len(lines)) if _HEADER.match(lines[i])), len(lines))
        else:
            nxt = next((i for i, line in enumerate(lines) if _SEARCH_HEADER.match(line)), len(lines))
        # Comments directly above the next header belong to that header.
        while nxt > 0 and lines[nxt - 1].lstrip().startswith("#"):
            nxt -= 1
        return nxt

    expected = (curated.title, curated.videos + (video,), curated.searches)
    at = insertion_point()
    attempts = [
        "".join(lines[:at]) + ("\n" if at and lines[at - 1].strip() else "") + block + "\n" + "".join(lines[at:]),
        "".join(lines) + "\n" + block,
    ]
    for candidate_text in attempts:
        try:
            import tomllib

            parsed = curated_list_from_data(path, tomllib.loads(candidate_text))
        except (ValueError, ConfigError):
            continue
        if (parsed.title, parsed.videos, parsed.searches) == expected:
            return candidate_text.rstrip("\n") + "\n"
    raise ConfigError(f"could not add the video to {path} safely; add it by hand:\n{block}")
