"""``nlmg-media videos``: curated list, refresh over yt-dlp, statuses that survive outages, playlists, approve.

Nothing here touches the internet. Generic pages (JSON-LD ``VideoObject``, ``og:video``), 404s, 429s, 500s and
dead ports are served on 127.0.0.1 by a server each test starts; YouTube URLs go through yt-dlp's extractor
API with recorded fixtures (``tests/fixtures/videos``) raising errors the way yt-dlp's YouTube extractor does;
"no network at all" is the real YouTube extractor behind a proxy on a dead loopback port.
"""

from __future__ import annotations

import html.parser
import http.server
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from yt_dlp.extractor.youtube import YoutubeIE, YoutubeSearchIE
from yt_dlp.utils import remove_end

from pipeline import curation
from pipeline.cli import main
from pipeline.curation import RefreshSettings, YtDlpSource, playlist

FIXTURES = Path(__file__).parent / "fixtures" / "videos"
RECORDS = json.loads((FIXTURES / "youtube_records.json").read_text(encoding="utf-8"))
SEARCHES = json.loads((FIXTURES / "youtube_search.json").read_text(encoding="utf-8"))
NOW = datetime(2026, 11, 24, 12, 0, 0, tzinfo=UTC)
FAST = RefreshSettings(socket_timeout=2.0, attempts=3, backoff=0.05)

# ---------------------------------------------------------------------------------------------- loopback site


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"


@dataclass
class LoopbackSite:
    """A threaded HTTP server on 127.0.0.1 serving ``routes``; counts hits per path."""

    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> LoopbackSite:
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                site.hits[path] += 1
                route = site.routes.get(path, Route(404, b"<html><body>Not found</body></html>"))
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(route.body)

            do_HEAD = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture(autouse=True)
def _own_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands read ``nlmg-media.toml`` from the working folder; keep the checkout's out of these tests."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def site() -> Iterator[LoopbackSite]:
    server = LoopbackSite().start()
    yield server
    server.stop()


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def jsonld_page(
    name: str,
    *,
    content_url: str,
    channel: str = "Fixture Channel",
    duration: str = "PT5M3S",
    encoding: str | None = "video/mp4",
    thumbnail: str = "https://img.example.invalid/thumb.jpg",
) -> bytes:
    """A page yt-dlp's generic extractor reads through its JSON-LD ``VideoObject`` support."""
    video = {
        "@context": "https://schema.org",
        "@type": "VideoObject",
        "name": name,
        "description": "A loopback summary of Never Let Me Go.",
        "thumbnailUrl": thumbnail,
        "uploadDate": "2024-03-01T10:00:00+00:00",
        "duration": duration,
        "contentUrl": content_url,
        "author": {"@type": "Person", "name": channel},
        "interactionStatistic": {
            "@type": "InteractionCounter",
            "interactionType": {"@type": "WatchAction"},
            "userInteractionCount": 1234,
        },
        "hasPart": [
            {"@type": "Clip", "name": "Hailsham", "startOffset": 0, "endOffset": 60},
            {"@type": "Clip", "name": "The Cottages", "startOffset": 60, "endOffset": 303},
        ],
    }
    if encoding:
        video["encodingFormat"] = encoding
    # "</" inside a script element would end it early; JSON allows "<\/".
    payload = json.dumps(video).replace("</", "<\\/")
    return (
        "<!doctype html><html><head><title>Loopback video page</title>"
        f'<script type="application/ld+json">{payload}</script></head><body><p>Video</p></body></html>'
    ).encode()


def og_page(title: str, video_url: str) -> bytes:
    """A page the generic extractor reads through its Open Graph ``og:video`` support."""
    return (
        f'<html><head><title>OG page</title><meta property="og:title" content="{title}">'
        f'<meta property="og:video" content="{video_url}"><meta property="og:video:type" content="video/mp4">'
        '<meta property="og:image" content="https://img.example.invalid/og.jpg">'
        '<meta property="og:description" content="Open Graph description"></head><body></body></html>'
    ).encode()


def write_list(path: Path, videos: list[dict[str, str]], searches: list[dict[str, object]] = ()) -> Path:
    lines = ["# test list", "[playlist]", 'title = "Test playlist"', ""]
    for video in videos:
        lines.append("[[video]]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in video.items())
        lines.append("")
    for search in searches:
        lines.append("[[search]]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in search.items())
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- recorded YouTube fixtures


class RecordedYoutubeIE(YoutubeIE):
    """YouTube's extractor with its network half replaced by recorded fixtures; errors are raised with the
    same calls and message composition as ``YoutubeIE._real_extract`` (yt_dlp/extractor/youtube/_video.py)."""

    rate_limit_url: str | None = None
    calls: Counter[str] = Counter()

    @classmethod
    def ie_key(cls) -> str:
        return "Youtube"  # replaces the built-in extractor in place

    def _real_extract(self, url: str) -> dict:
        video_id = self._match_id(url)
        type(self).calls[video_id] += 1
        record = RECORDS[video_id]
        if "http_status" in record:
            # The real request path: _download_webpage → HTTPError → ExtractorError(cause=HTTPError).
            self._download_webpage(f"{self.rate_limit_url}/{record['http_status']}", video_id)
        if "info" in record:
            return json.loads(json.dumps(record["info"]))
        status = record["playability"]
        reason, subreason = status.get("reason") or "", status.get("subreason")
        if subreason:
            if subreason.startswith("The uploader has not made this video available in your country"):
                self.raise_geo_restricted(subreason, record.get("available_countries"), metadata_available=True)
            if subreason != reason:
                reason += f". {subreason}"
        if "sign in" in reason.lower():
            reason = f"{remove_end(reason.strip(), '.')}. {self._youtube_login_hint}"
        elif "This content isn't available, try again later" in reason:
            reason = (
                f"{remove_end(reason.strip(), '.')}. The current session has been rate-limited by YouTube for "
                "up to an hour."
            )
        self.raise_no_formats(reason, expected=True)
        raise AssertionError("raise_no_formats returned")


class RecordedYoutubeSearchIE(YoutubeSearchIE):
    """``ytsearchN:`` answered from recorded flat entries."""

    @classmethod
    def ie_key(cls) -> str:
        return "YoutubeSearch"

    def _search_results(self, query: str) -> Iterator[dict]:
        yield from json.loads(json.dumps(SEARCHES.get(query, [])))


@pytest.fixture
def youtube(site: LoopbackSite) -> Iterator[YtDlpSource]:
    site.routes["/429"] = Route(429, b"Too Many Requests")
    RecordedYoutubeIE.rate_limit_url = site.base
    RecordedYoutubeIE.calls = Counter()
    source = YtDlpSource(socket_timeout=2, extractors=[RecordedYoutubeIE, RecordedYoutubeSearchIE])
    yield source
    source.close()


def yt(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def by_url(manifest: curation.Manifest) -> dict[str, curation.VideoEntry]:
    return {entry.url: entry for entry in manifest.entries}


def metadata(entry: curation.VideoEntry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in curation.METADATA_FIELDS}


# ------------------------------------------------------------------------------------------ the curated list


def test_shipped_list_has_discovery_searches_and_no_invented_videos() -> None:
    shipped = curation.load_curated_list(Path(__file__).parent.parent / "assets" / "curated_videos.toml")
    assert shipped.title == "Never Let Me Go — video summaries and interviews"
    assert {search.kind for search in shipped.searches} >= {"summary", "commentary", "interview"}
    assert all(search.ytdlp_url.startswith(f"ytsearch{search.limit}:") for search in shipped.searches)
    assert shipped.videos == ()


def test_malformed_list_names_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "list.toml"
    bad.write_text('[playlist]\ntitle = "x"\n[[video]]\nurl = "https://a.example/v\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["videos", "refresh", "--list", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: malformed curated video list {bad}: Illegal character '\\n' (at line 4, column 27)\n"
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[video]]\nurl = "https://a.example/v"\nkind = "rant"\n',
         "video #1: kind must be one of summary, interview, commentary, adaptation, other, got 'rant'"),
        ('[[video]]\nurl = "javascript:alert(1)"\n', "video #1: url must be an http(s) URL, got 'javascript:alert(1)'"),
        ('[[video]]\nurl = "https://a.example/v"\n[[video]]\nurl = "https://a.example/v"\n',
         "video #2 repeats the url of video #1: https://a.example/v"),
        ('[[video]]\nurl = "https://a.example/v"\nkidn = "summary"\n',
         "video #1: unknown key 'kidn' (allowed: kind, note, url)"),
        ('[[search]]\nquery = "x"\nlimit = 500\n', "search #1: limit must be a whole number from 1 to 50"),
        ('[[videos]]\nurl = "https://a.example/v"\n',
         "unknown key 'videos' (expected [playlist], [[video]] and [[search]] tables)"),
    ],
)  # fmt: skip
def test_invalid_list_entries_are_named(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "list.toml"
    path.write_text(toml, encoding="utf-8")
    result = CliRunner().invoke(main, ["videos", "refresh", "--list", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.output == f"Error: {path}: {message}\n"


# ----------------------------------------------------------------------------------- generic pages on loopback


def test_refresh_reads_jsonld_and_og_pages(site: LoopbackSite, tmp_path: Path) -> None:
    site.routes["/clip.mp4"] = Route(200, b"\x00\x00\x00\x18ftypmp42", "video/mp4")
    site.routes["/ld"] = Route(body=jsonld_page("Hailsham, explained", content_url=site.url("/clip.mp4")))
    # No encodingFormat: the generic extractor follows contentUrl (a GET) to learn what it is.
    site.routes["/ld-follow"] = Route(
        body=jsonld_page("Followed content", content_url=site.url("/clip.mp4"), encoding=None)
    )
    site.routes["/og"] = Route(body=og_page("An Open Graph video", site.url("/clip.mp4")))
    listing = write_list(
        tmp_path / "list.toml",
        [
            {"url": site.url("/ld"), "kind": "summary", "note": "Start here."},
            {"url": site.url("/ld-follow"), "kind": "commentary"},
            {"url": site.url("/og"), "kind": "other"},
        ],
    )
    out = tmp_path / "out"
    report = curation.refresh_videos(listing, out, FAST, now=NOW)

    entries = by_url(report.manifest)
    ld = entries[site.url("/ld")]
    assert ld.status == "ok" and ld.error is None
    assert ld.checked_at == ld.last_ok_at == "2026-11-24T12:00:00Z"
    assert metadata(ld) == {
        "id": "ld",
        "extractor": "Generic",
        "title": "Hailsham, explained",
        "channel": None,
        "uploader": "Fixture Channel",
        "duration": 303.0,
        "upload_date": "2024-03-01",
        "view_count": 1234,
        "thumbnail": "https://img.example.invalid/thumb.jpg",
        "description": "A loopback summary of Never Let Me Go.",
        "chapters": (curation.Chapter("Hailsham", 0.0, 60.0), curation.Chapter("The Cottages", 60.0, 303.0)),
        "webpage_url": site.url("/ld"),
    }
    assert (ld.kind, ld.note, ld.creator) == ("summary", "Start here.", "Fixture Channel")
    assert entries[site.url("/ld-follow")].title == "Followed content"
    assert site.hits["/clip.mp4"] >= 1
    og = entries[site.url("/og")]
    assert (og.status, og.title, og.thumbnail) == ("ok", "An Open Graph video", "https://img.example.invalid/og.jpg")
    assert report.summary() == (
        f"3 approved videos: 3 ok (checked 3, 0 still fresh); 0 candidates from 0 searches in {out / 'manifest.json'}"
    )
    assert sorted(path.name for path in out.iterdir() if not path.name.startswith(".")) == [
        "index.html",
        "manifest.json",
        "playlist.jspf",
        "playlist.m3u8",
    ]


@pytest.mark.timeout(180)  # retries stay inside each entry's budget (a hang guard)
def test_failures_get_statuses_and_transient_ones_are_retried(site: LoopbackSite, tmp_path: Path) -> None:
    site.routes["/busy"] = Route(429, b"slow down")
    site.routes["/broken"] = Route(500, b"oops")
    site.routes["/plain"] = Route(body=b"<html><head><title>No video here</title></head><body>text</body></html>")
    dead = f"http://127.0.0.1:{dead_port()}/gone"
    listing = write_list(
        tmp_path / "list.toml",
        [{"url": site.url(path)} for path in ("/missing", "/busy", "/broken", "/plain")] + [{"url": dead}],
    )
    report = curation.refresh_videos(listing, tmp_path / "out", FAST, now=NOW)

    statuses = {entry.url: entry.status for entry in report.manifest.approved}
    assert statuses == {
        site.url("/missing"): "removed",
        site.url("/busy"): "rate_limited",
        site.url("/broken"): "unreachable",
        site.url("/plain"): "unavailable",
        dead: "unreachable",
    }
    assert site.hits["/missing"] == 1  # permanent: not retried
    assert site.hits["/plain"] == 1
    assert site.hits["/busy"] == 3 and site.hits["/broken"] <= 3  # transient: retried (the host may trip the breaker)
    errors = {entry.url: entry.error for entry in report.manifest.approved}
    assert errors[site.url("/missing")] == "[generic] missing: Unable to download webpage: HTTP Error 404: Not Found"
    assert errors[site.url("/busy")].endswith("HTTP Error 429: Too Many Requests")
    assert "Connection refused" in errors[dead]
    assert errors[site.url("/plain")] == f"Unsupported URL: {site.url('/plain')}"

    # The next refresh re-checks the transient failures (and only them) although they are fresh.
    before = Counter(site.hits)
    again = curation.refresh_videos(listing, tmp_path / "out", FAST, now=NOW + timedelta(minutes=5))
    assert again.checked == 3 and again.fresh == 2
    assert site.hits["/missing"] == before["/missing"] and site.hits["/busy"] > before["/busy"]


def test_outage_keeps_every_field_from_the_last_good_refresh(site: LoopbackSite, tmp_path: Path) -> None:
    site.routes["/clip.mp4"] = Route(200, b"mp4", "video/mp4")
    paths = [f"/v{i}" for i in range(3)]
    for i, path in enumerate(paths):
        site.routes[path] = Route(body=jsonld_page(f"Video {i}", content_url=site.url("/clip.mp4")))
    listing = write_list(tmp_path / "list.toml", [{"url": site.url(path), "kind": "summary"} for path in paths])
    out = tmp_path / "out"
    good = curation.refresh_videos(listing, out, FAST, now=NOW)
    assert {entry.status for entry in good.manifest.approved} == {"ok"}

    site.stop()  # the site goes away
    result = CliRunner().invoke(
        main, ["videos", "refresh", "--list", str(listing), "--out", str(out), "--force", "--timeout", "1"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"No network: all 3 checks failed to connect; kept last-known metadata for every entry "
        f"(3 approved, 0 candidates) in {out / 'manifest.json'}"
    )

    manifest = curation.load_manifest(out)
    assert manifest is not None
    before, after = by_url(good.manifest), by_url(manifest)
    for url, entry in after.items():
        assert entry.status == "unreachable"
        assert metadata(entry) == metadata(before[url])  # every field kept
        assert entry.last_ok_at == before[url].last_ok_at == "2026-11-24T12:00:00Z"
        assert entry.checked_at is not None and entry.checked_at > before[url].checked_at
        assert "Connection refused" in (entry.error or "")
    # The views still show the last-known titles; the M3U8 lists only ok entries.
    jspf = json.loads((out / "playlist.jspf").read_text(encoding="utf-8"))
    assert [track["title"] for track in jspf["playlist"]["track"]] == ["Video 0", "Video 1", "Video 2"]
    assert (out / "playlist.m3u8").read_text(encoding="utf-8") == "#EXTM3U\n#PLAYLIST:Test playlist\n"
    assert "Not checked: the site could not be reached" in (out / "index.html").read_text(encoding="utf-8")


def test_fresh_entries_are_not_refetched_unless_forced(site: LoopbackSite, tmp_path: Path) -> None:
    site.routes["/clip.mp4"] = Route(200, b"mp4", "video/mp4")
    site.routes["/v"] = Route(body=jsonld_page("Fresh", content_url=site.url("/clip.mp4")))
    listing = write_list(tmp_path / "list.toml", [{"url": site.url("/v")}])
    out = tmp_path / "out"
    curation.refresh_videos(listing, out, FAST, now=NOW)
    assert site.hits["/v"] == 1
    report = curation.refresh_videos(listing, out, FAST, now=NOW + timedelta(hours=23))
    assert (report.checked, report.fresh, site.hits["/v"]) == (0, 1, 1)
    curation.refresh_videos(listing, out, FAST, now=NOW + timedelta(hours=25))
    assert site.hits["/v"] == 2
    forced = RefreshSettings(socket_timeout=2.0, force=True)
    curation.refresh_videos(listing, out, forced, now=NOW + timedelta(hours=25, minutes=1))
    assert site.hits["/v"] == 3


@pytest.mark.timeout(180)  # 4 at a time, each bounded by its budget: seconds here, a hang guard only
def test_forty_entries_refresh_in_parallel(site: LoopbackSite, tmp_path: Path) -> None:
    site.routes["/clip.mp4"] = Route(200, b"mp4", "video/mp4")
    videos = []
    for i in range(40):
        path = f"/video-{i}"
        if i % 2:
            site.routes[path] = Route(body=jsonld_page(f"Summary {i}", content_url=site.url("/clip.mp4")))
        else:
            site.routes[path] = Route(body=og_page(f"Open Graph {i}", site.url("/clip.mp4")))
        videos.append({"url": site.url(path), "kind": "summary"})
    listing = write_list(tmp_path / "list.toml", videos)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["videos", "refresh", "--list", str(listing), "--out", str(out), "--jobs", "4"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("40 approved videos: 40 ok (checked 40, 0 still fresh)")
    m3u8 = (out / "playlist.m3u8").read_text(encoding="utf-8").splitlines()
    assert len([line for line in m3u8 if line.startswith("#EXTINF:")]) == 40


# ------------------------------------------------------------------------------------- YouTube via fixtures


def test_youtube_statuses_from_recorded_extractor_results(youtube: YtDlpSource, tmp_path: Path) -> None:
    ids = ["nlmgSummary", "nlmgPrivate", "nlmgRemoved", "nlmgUnavail", "nlmgGeoOnly", "nlmgAgeGate",
           "nlmgBusyLim", "nlmgRateLim"]  # fmt: skip
    listing = write_list(tmp_path / "list.toml", [{"url": yt(video_id)} for video_id in ids])
    report = curation.refresh_videos(listing, tmp_path / "out", FAST, source=youtube, now=NOW)
    entries = by_url(report.manifest)
    assert {video_id: entries[yt(video_id)].status for video_id in ids} == {
        "nlmgSummary": "ok",
        "nlmgPrivate": "private",
        "nlmgRemoved": "removed",
        "nlmgUnavail": "unavailable",
        "nlmgGeoOnly": "geo_blocked",
        "nlmgAgeGate": "age_restricted",
        "nlmgBusyLim": "rate_limited",
        "nlmgRateLim": "rate_limited",
    }
    assert entries[yt("nlmgPrivate")].error == (
        "[youtube] nlmgPrivate: Private video. Sign in if you've been granted access to this video."
    )
    assert entries[yt("nlmgGeoOnly")].error == (
        "[youtube] nlmgGeoOnly: The uploader has not made this video available in your country. "
        "This video is available in United Kingdom, Ireland."
    )
    assert entries[yt("nlmgRateLim")].error.endswith("Unable to download webpage: HTTP Error 429: Too Many Requests")
    summary = entries[yt("nlmgSummary")]
    assert metadata(summary) == {
        "id": "nlmgSummary",
        "extractor": "Youtube",
        "title": "Never Let Me Go — full book summary",
        "channel": "Fixture Book Club",
        "uploader": "Fixture Book Club",
        "duration": 512.0,
        "upload_date": "2021-03-14",
        "view_count": 48213,
        "thumbnail": "https://i.ytimg.com/vi/nlmgSummary/maxresdefault.jpg",
        "description": summary.description,
        "chapters": (
            curation.Chapter("Hailsham", 0.0, 95.0),
            curation.Chapter("The Cottages", 95.0, 300.0),
            curation.Chapter("Completion", 300.0, 512.0),
        ),
        "webpage_url": yt("nlmgSummary"),
    }
    assert summary.description.startswith("Kathy H. looks back on Hailsham, the cottages and her years as a carer.")
    assert len(summary.description) == curation.DESCRIPTION_EXCERPT and summary.description.endswith("…")
    # Permanent failures are tried once; rate limits are retried with backoff (then the host trips the breaker).
    assert RecordedYoutubeIE.calls["nlmgPrivate"] == 1
    assert RecordedYoutubeIE.calls["nlmgBusyLim"] + RecordedYoutubeIE.calls["nlmgRateLim"] >= 3
    assert report.summary().startswith(
        "8 approved videos: 1 ok, 1 private, 1 removed, 1 unavailable, 1 geo_blocked, 1 age_restricted, "
        "2 rate_limited (checked 8, 0 still fresh)"
    )


def test_a_video_that_turns_private_keeps_its_metadata(youtube: YtDlpSource, tmp_path: Path) -> None:
    listing = write_list(tmp_path / "list.toml", [{"url": yt("nlmgSummary"), "kind": "summary"}])
    out = tmp_path / "out"
    good = curation.refresh_videos(listing, out, FAST, source=youtube, now=NOW)
    original = RECORDS["nlmgSummary"]
    RECORDS["nlmgSummary"] = RECORDS["nlmgPrivate"]  # the uploader made it private
    try:
        later = curation.refresh_videos(listing, out, FAST, source=youtube, now=NOW + timedelta(days=3))
    finally:
        RECORDS["nlmgSummary"] = original
    before, after = good.manifest.approved[0], later.manifest.approved[0]
    assert (after.status, after.checked_at, after.last_ok_at) == (
        "private",
        "2026-11-27T12:00:00Z",
        "2026-11-24T12:00:00Z",
    )
    assert metadata(after) == metadata(before)
    assert later.summary().startswith("1 approved video: 1 private (checked 1, 0 still fresh); kept last-known")


def test_discovery_candidates_and_approve(youtube: YtDlpSource, tmp_path: Path) -> None:
    listing = write_list(
        tmp_path / "list.toml",
        [{"url": yt("nlmgSummary"), "kind": "summary", "note": "The best overview."}],
        [
            {"query": "Never Let Me Go book summary", "limit": 5, "kind": "summary"},
            {"query": "Kazuo Ishiguro interview", "limit": 5, "kind": "interview"},
        ],
    )
    out = tmp_path / "out"
    report = curation.refresh_videos(listing, out, FAST, source=youtube, now=NOW)
    candidates = report.manifest.candidates
    # The approved video never reappears as a candidate; a video two searches found appears once.
    assert [(c.id, c.kind, c.query) for c in candidates] == [
        ("nlmgCandOne", "summary", "Never Let Me Go book summary"),
        ("nlmgCandTwo", "summary", "Never Let Me Go book summary"),
        ("nlmgIntervw", "interview", "Kazuo Ishiguro interview"),
    ]
    assert candidates[0].url == yt("nlmgCandOne") and candidates[0].duration == 603.0
    assert candidates[0].thumbnail == "https://i.ytimg.com/vi/nlmgCandOne/hq720.jpg"
    assert [record.found for record in report.manifest.searches] == [3, 2]  # results, before de-duplication
    assert curation.load_curated_list(listing).videos == (
        curation.CuratedVideo(yt("nlmgSummary"), "summary", "The best overview."),
    )
    # Candidates are not in the playlists.
    jspf = json.loads((out / "playlist.jspf").read_text(encoding="utf-8"))
    assert len(jspf["playlist"]["track"]) == 1

    runner = CliRunner()
    result = runner.invoke(
        main,
        ["videos", "approve", "nlmgCandOne", "--note", "Ten clear minutes.", "--list", str(listing), "--out",
         str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Approved Never Let Me Go explained in ten minutes <{yt('nlmgCandOne')}> as summary in {listing}\n"
    )
    text = listing.read_text(encoding="utf-8")
    assert text.startswith("# test list\n")  # the curator's comments survive
    assert text.index("nlmgCandOne") < text.index("[[search]]")  # placed after the last [[video]]
    assert curation.load_curated_list(listing).videos[-1] == curation.CuratedVideo(
        yt("nlmgCandOne"), "summary", "Ten clear minutes."
    )
    manifest = curation.load_manifest(out)
    assert manifest is not None
    assert [(e.role, e.id) for e in manifest.entries] == [
        ("approved", "nlmgSummary"),
        ("approved", "nlmgCandOne"),
        ("candidate", "nlmgCandTwo"),
        ("candidate", "nlmgIntervw"),
    ]
    assert manifest.approved[1].checked_at is None  # full metadata is fetched on the next refresh

    again = runner.invoke(main, ["videos", "approve", yt("nlmgCandOne"), "--list", str(listing), "--out", str(out)])
    assert again.exit_code == 1
    assert again.output == f"Error: {yt('nlmgCandOne')} is already approved in {listing}\n"
    unknown = runner.invoke(main, ["videos", "approve", "nope", "--list", str(listing), "--out", str(out)])
    assert unknown.output == (
        f"Error: no candidate with id or URL 'nope' in {out / 'manifest.json'}; run `nlmg-media videos refresh` first\n"
    )

    later = curation.refresh_videos(listing, out, FAST, source=youtube, now=NOW + timedelta(hours=1))
    approved = by_url(later.manifest)[yt("nlmgCandOne")]
    assert (approved.role, approved.status, approved.upload_date) == ("approved", "ok", "2022-02-02")
    assert later.checked == 1  # only the newly approved one; the other is fresh
    assert [c.id for c in later.manifest.candidates] == ["nlmgCandTwo", "nlmgIntervw"]


def test_approve_a_url_into_a_list_without_videos(tmp_path: Path) -> None:
    listing = tmp_path / "list.toml"
    listing.write_text('[playlist]\ntitle = "T"\n\n# searches\n[[search]]\nquery = "q"\n', encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["videos", "approve", "https://a.example/v", "--kind", "interview", "--list", str(listing), "--out",
         str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert listing.read_text(encoding="utf-8") == (
        '[playlist]\ntitle = "T"\n\n[[video]]\nurl = "https://a.example/v"\nkind = "interview"\n\n'
        '# searches\n[[search]]\nquery = "q"\n'
    )


# --------------------------------------------------------------------------------------------- no network


def test_no_network_at_all_keeps_last_known_and_says_so(youtube: YtDlpSource, tmp_path: Path) -> None:
    ids = ["nlmgSummary", "nlmgIntervw", "nlmgCandOne"]
    listing = write_list(
        tmp_path / "list.toml",
        [{"url": yt(video_id), "kind": "summary"} for video_id in ids],
        [{"query": "Never Let Me Go book summary", "limit": 3, "kind": "summary"}],
    )
    out = tmp_path / "out"
    good = curation.refresh_videos(listing, out, FAST, source=youtube, now=NOW)
    assert {e.status for e in good.manifest.approved} == {"ok"} and len(good.manifest.candidates) == 1

    # The real YouTube extractors, with every request sent to a proxy on a dead loopback port.
    proxy = f"http://127.0.0.1:{dead_port()}"
    started = time.monotonic()
    result = CliRunner().invoke(
        main,
        ["videos", "refresh", "--list", str(listing), "--out", str(out), "--force", "--proxy", proxy,
         "--timeout", "1", "--retries", "2"],
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "No network: all 4 checks failed to connect; kept last-known metadata for every entry "
        f"(3 approved, 1 candidate) in {out / 'manifest.json'}"
    )
    assert elapsed < 1 * 2 * 4  # within socket timeout × retries per entry
    manifest = curation.load_manifest(out)
    assert manifest is not None
    for before, after in zip(good.manifest.entries, manifest.entries, strict=True):
        assert metadata(after) == metadata(before)
        assert after.last_ok_at == before.last_ok_at
        assert after.status == ("unreachable" if after.role == "approved" else "ok")
    assert manifest.searches[0].status == "unreachable"
    assert manifest.searches[0].last_ok_at == "2026-11-24T12:00:00Z"


# --------------------------------------------------------------------------------------------- escaping


class _TextCollector(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_hostile_titles_are_escaped_everywhere(site: LoopbackSite, tmp_path: Path) -> None:
    hostile = {
        "/a": "<script>alert(1)</script>",
        "/b": '"]]><x>',
        "/c": "Line one #EXTINF:1,evil & more",
    }
    site.routes["/clip.mp4"] = Route(200, b"mp4", "video/mp4")
    for path, title in hostile.items():
        site.routes[path] = Route(
            body=jsonld_page(title, content_url=site.url("/clip.mp4"), channel='<img src=x onerror="alert(2)">')
        )
    listing = write_list(
        tmp_path / "list.toml",
        [{"url": site.url(path), "kind": "summary", "note": "</p><iframe src=//evil>"} for path in hostile],
    )
    out = tmp_path / "out"
    curation.refresh_videos(listing, out, FAST, now=NOW)

    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<script" not in page and "<x>" not in page and "<iframe" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&quot;]]&gt;&lt;x&gt;" in page
    parsed = _TextCollector()
    parsed.feed(page)
    assert set(parsed.tags) <= {
        "html", "head", "meta", "title", "style", "body", "header", "h1", "p", "main", "section", "h2", "ol",
        "li", "a", "img", "span", "div", "h3", "details", "summary", "footer", "code",
    }  # fmt: skip
    text = "".join(parsed.text)
    for title in hostile.values():
        assert title in text  # shown to the reader verbatim, as text
    assert "</p><iframe src=//evil>" in text

    jspf = json.loads((out / "playlist.jspf").read_text(encoding="utf-8"))
    tracks = jspf["playlist"]["track"]
    assert [track["title"] for track in tracks] == list(hostile.values())
    assert tracks[0]["creator"] == '<img src=x onerror="alert(2)">'
    assert tracks[0]["annotation"] == "</p><iframe src=//evil>"
    assert tracks[0]["duration"] == 303000
    assert tracks[0]["location"] == [site.url("/a")]
    assert tracks[0]["identifier"] == ["urn:nlmg-media:video:generic:a"]
    extension = tracks[0]["extension"][playlist.JSPF_EXTENSION]
    assert extension["status"] == "ok" and extension["upload_date"] == "2024-03-01"
    assert extension["chapters"][0] == {"title": "Hailsham", "start": 0.0, "end": 60.0}

    m3u8 = (out / "playlist.m3u8").read_text(encoding="utf-8").split("\n")
    assert m3u8 == [
        "#EXTM3U",
        "#PLAYLIST:Test playlist",
        "#EXTINF:303,<script>alert(1)</script>",
        site.url("/a"),
        '#EXTINF:303,"]]><x>',
        site.url("/b"),
        "#EXTINF:303,Line one #EXTINF:1,evil & more",
        site.url("/c"),
        "",
    ]


def test_line_breaks_and_unsafe_urls_never_reach_the_views() -> None:
    entry = curation.VideoEntry(
        url="https://a.example/v",
        role="approved",
        kind="summary",
        status="ok",
        title="Two\nlines\r\n#EXTINF:0,x",
        thumbnail="javascript:alert(1)",
        webpage_url="https://a.example/v",
    )
    manifest = curation.Manifest(title="T\nU", list_path="l", refreshed_at=None, entries=(entry,))
    assert playlist.m3u8_text(manifest) == (
        "#EXTM3U\n#PLAYLIST:T U\n#EXTINF:-1,Two lines #EXTINF:0,x\nhttps://a.example/v\n"
    )
    page = playlist.html_page(manifest)
    assert "javascript:" not in page
    assert "image" not in playlist.jspf_document(manifest)["playlist"]["track"][0]


# ----------------------------------------------------------------------------------------- CLI odds and ends


def test_list_table_and_json(site: LoopbackSite, tmp_path: Path) -> None:
    site.routes["/clip.mp4"] = Route(200, b"mp4", "video/mp4")
    site.routes["/v"] = Route(body=jsonld_page("A\x1b[31m red title", content_url=site.url("/clip.mp4")))
    listing = write_list(tmp_path / "list.toml", [{"url": site.url("/v"), "kind": "summary"}])
    out = tmp_path / "out"
    curation.refresh_videos(listing, out, FAST, now=NOW)
    runner = CliRunner()
    table = runner.invoke(main, ["videos", "list", "--out", str(out)])
    assert table.exit_code == 0, table.output
    assert table.output == (
        "ROLE      STATUS  KIND     LENGTH  ID  TITLE             CHANNEL\n"
        "approved  ok      summary  5:03    v   A [31m red title  Fixture Channel\n"
        "1 approved, 0 candidates; refreshed 2026-11-24T12:00:00Z\n"
    )
    as_json = json.loads(runner.invoke(main, ["videos", "list", "--json", "--out", str(out)]).output)
    assert as_json["schema"] == 1 and as_json["entries"][0]["title"] == "A [31m red title"
    missing = runner.invoke(main, ["videos", "list", "--out", str(tmp_path / "none")])
    assert missing.exit_code == 1
    assert missing.output == (
        f"Error: no video manifest in {tmp_path / 'none'}; run `nlmg-media videos refresh` first\n"
    )


def test_strict_fails_when_an_approved_video_is_not_ok(site: LoopbackSite, tmp_path: Path) -> None:
    site.routes["/clip.mp4"] = Route(200, b"mp4", "video/mp4")
    site.routes["/ok"] = Route(body=jsonld_page("Fine", content_url=site.url("/clip.mp4")))
    listing = write_list(tmp_path / "list.toml", [{"url": site.url("/ok")}, {"url": site.url("/gone")}])
    out = tmp_path / "out"
    args = ["videos", "refresh", "--list", str(listing), "--out", str(out)]
    result = CliRunner(mix_stderr=False).invoke(main, [*args, "--strict"])
    assert result.exit_code == 1
    assert result.stdout == (
        f"2 approved videos: 1 ok, 1 removed (checked 2, 0 still fresh); 0 candidates from 0 searches in "
        f"{out / 'manifest.json'}\n"
        f"  removed: {site.url('/gone')}: [generic] gone: Unable to download webpage: HTTP Error 404: Not Found\n"
    )
    assert result.stderr == (f"Error: --strict: 1 of 2 approved videos are not ok: {site.url('/gone')} (removed)\n")
    assert (out / "manifest.json").is_file()  # written before the verdict
    assert CliRunner().invoke(main, args).exit_code == 0


def test_damaged_manifest_and_busy_lock_are_reported(tmp_path: Path) -> None:
    import filelock

    listing = write_list(tmp_path / "list.toml", [])
    out = tmp_path / "out"
    out.mkdir()
    args = ["videos", "refresh", "--list", str(listing), "--out", str(out)]
    (out / "manifest.json").write_text('{"schema": 1,\n "entries": [}', encoding="utf-8")
    result = CliRunner().invoke(main, args)
    assert result.output == (
        f"Error: video manifest {out / 'manifest.json'} is not valid JSON (line 2, column 14); "
        "restore it or delete it to start afresh\n"
    )
    (out / "manifest.json").unlink()
    with filelock.FileLock(str(out / curation.LOCK_NAME), timeout=0):
        busy = CliRunner().invoke(main, args)
    assert busy.output == (f"Error: another videos refresh is writing to {out} (lock {out / curation.LOCK_NAME})\n")
    assert CliRunner().invoke(main, args).exit_code == 0


def test_project_file_videos_table_sets_defaults(tmp_path: Path) -> None:
    listing = write_list(tmp_path / "curated.toml", [])
    (tmp_path / "nlmg-media.toml").write_text(
        f'[videos]\nlist = "{listing.name}"\nout = "site/videos"\nmax_age = 1\n', encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["videos", "refresh"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "site" / "videos" / "playlist.jspf").is_file()
    (tmp_path / "nlmg-media.toml").write_text('[videos]\njobs = "many"\n', encoding="utf-8")
    bad = CliRunner().invoke(main, ["videos", "refresh"])
    assert bad.output == "Error: project config [videos] jobs must be a whole number, got 'many'\n"


@pytest.mark.parametrize("command", [[], ["refresh"], ["list"], ["approve"]])
def test_every_videos_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, ["videos", *command, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")
