"""``nlmg-media publish``: feed validity (feedparser, podcastparser, Apple's tags), stable GUIDs and dates,
escaping, the site page, and the folder and S3 targets (against moto's server on loopback)."""

from __future__ import annotations

import email.utils
import gzip
import json
import re
import shutil
import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import feedparser
import podcastparser
import pytest
from click.testing import CliRunner
from lxml import etree
from PIL import Image
from support import FEED_BASE as BASE
from support import FEED_NAMESPACES as NS
from support import make_render
from support import site_settings as settings

from pipeline.cache import sha256_file
from pipeline.cli import main
from pipeline.errors import ConfigError, InputError, OutputError
from pipeline.publishing import feed, site
from pipeline.publishing import targets as publish
from pipeline.publishing.registry import podcast_guid

T1 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
T2 = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
T3 = datetime(2026, 3, 1, 8, 15, tzinfo=UTC)


def channel_of(site_dir: Path) -> etree._Element:
    return etree.parse(str(site_dir / "feed.xml")).getroot().find("channel")


def items_by_title(site_dir: Path) -> dict[str, etree._Element]:
    return {item.findtext("title"): item for item in channel_of(site_dir).findall("item")}


@pytest.fixture
def one_render(tmp_path: Path, ffmpeg_exe: str) -> Path:
    return make_render(tmp_path / "output" / "never-let-me-go", ffmpeg_exe, video=True)


@pytest.fixture
def built(tmp_path: Path, one_render: Path) -> Path:
    site_dir = tmp_path / "site"
    site.build_site([one_render], site_dir, settings(), now=T1)
    return site_dir


# ----------------------------------------------------------------------------------------------- units


def test_podcast_guid_matches_the_spec_example() -> None:
    # The Podcasting 2.0 spec's own example value for podnews.net/rss.
    assert podcast_guid("https://podnews.net/rss/") == "9b024349-ccf0-5f69-a609-6b82873eab3c"
    assert podcast_guid("http://podnews.net/rss") == "9b024349-ccf0-5f69-a609-6b82873eab3c"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Arts › Books", ("Arts", "Books")),
        ("arts > books", ("Arts", "Books")),
        ("Society & Culture/Philosophy", ("Society & Culture", "Philosophy")),
        ("History", ("History", None)),
    ],
)
def test_category_accepts_apple_names(text: str, expected: tuple[str, str | None]) -> None:
    assert feed.parse_category(text) == expected


@pytest.mark.parametrize("text", ["Books", "Arts › Literature", "Arts › Books › Novels", ""])
def test_category_rejects_names_apple_does_not_list(text: str) -> None:
    with pytest.raises(ConfigError):
        feed.parse_category(text)


# ------------------------------------------------------------------------------------------ the feed


def test_feed_parses_in_feedparser_without_bozo(built: Path) -> None:
    parsed = feedparser.parse(str(built / "feed.xml"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.feed.title == "Book Notes"
    (entry,) = parsed.entries
    assert entry.title == "Never Let Me Go by Kazuo Ishiguro"
    assert entry.enclosures[0].type == "audio/mpeg"
    assert entry.itunes_duration == "3"


def test_feed_parses_in_podcastparser_with_transcripts_and_chapters(built: Path) -> None:
    # Stock podcastparser (0.6.11 knows only the podcast namespace's old URI): see feed.py's docstring.
    with open(built / "feed.xml", "rb") as stream:
        parsed = podcastparser.parse(f"{BASE}/feed.xml", stream)
    assert parsed["title"] == "Book Notes"
    assert parsed["explicit"] is False
    assert parsed["itunes_categories"] == [["Arts", "Books"]]
    (episode,) = parsed["episodes"]
    mp3 = built / "episodes/never-let-me-go/never-let-me-go.mp3"
    assert episode["enclosures"] == [
        {"url": f"{BASE}/episodes/never-let-me-go/never-let-me-go.mp3", "file_size": mp3.stat().st_size,
         "mime_type": "audio/mpeg"}
    ]  # fmt: skip
    assert episode["total_time"] == 3
    assert episode["transcript_url"] == f"{BASE}/episodes/never-let-me-go/captions.vtt"
    assert episode["chapters_json_url"] == f"{BASE}/episodes/never-let-me-go/chapters.json"
    chapters = json.loads((built / "episodes/never-let-me-go/chapters.json").read_text("utf-8"))["chapters"]
    assert episode["chapters"] == [{"start": int(c["startTime"]), "title": c["title"]} for c in chapters]
    assert episode["published"] == int(T1.timestamp())


def test_apple_required_tags_have_valid_values(built: Path) -> None:
    channel = channel_of(built)
    assert channel.findtext("title") == "Book Notes"
    assert channel.findtext("link") == f"{BASE}/"
    assert channel.findtext("description")
    assert channel.findtext("language") == "en"
    assert channel.find("atom:link[@rel='self']", NS).get("href") == f"{BASE}/feed.xml"
    assert channel.findtext("itunes:explicit", namespaces=NS) == "false"
    assert channel.findtext("itunes:author", namespaces=NS) == "Ann Reader"
    assert channel.findtext("itunes:owner/itunes:email", namespaces=NS) == "ann@example.org"
    assert channel.findtext("itunes:type", namespaces=NS) == "episodic"
    category = channel.find("itunes:category", NS)
    assert category.get("text") == "Arts" and category.find("itunes:category", NS).get("text") == "Books"
    assert channel.findtext("podcast:locked", namespaces=NS) == "yes"
    guid = channel.findtext("podcast:guid", namespaces=NS)
    assert guid == str(uuid.uuid5(uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"), "example.org/pod/feed.xml"))

    image_url = channel.find("itunes:image", NS).get("href")
    assert image_url == f"{BASE}/cover.jpg"
    with Image.open(built / "cover.jpg") as art:
        assert art.format == "JPEG" and art.mode == "RGB"
        assert art.width == art.height and 1400 <= art.width <= 3000

    (item,) = channel.findall("item")
    assert item.find("guid").get("isPermaLink") == "false"
    assert email.utils.parsedate_to_datetime(item.findtext("pubDate")) == T1
    enclosure = item.find("enclosure")
    path = built / enclosure.get("url").removeprefix(BASE + "/")
    assert int(enclosure.get("length")) == path.stat().st_size
    assert enclosure.get("type") == "audio/mpeg"
    assert item.findtext("itunes:duration", namespaces=NS) == "3"
    assert item.findtext("itunes:episodeType", namespaces=NS) == "full"
    transcripts = [(t.get("type"), t.get("rel")) for t in item.findall("podcast:transcript", NS)]
    assert transcripts == [("text/vtt", "captions"), ("application/x-subrip", "captions"), ("application/json", None)]
    assert item.find("podcast:chapters", NS).get("type") == "application/json+chapters"
    for url in [t.get("url") for t in item.findall("podcast:transcript", NS)] + [image_url]:
        assert (built / url.removeprefix(BASE + "/")).is_file()


def test_html_description_is_in_cdata(built: Path) -> None:
    text = (built / "feed.xml").read_text("utf-8")
    assert "<description><![CDATA[<p>Kathy H. looks back" in text


def test_republishing_keeps_guids_and_pubdates(tmp_path: Path, ffmpeg_exe: str, one_render: Path) -> None:
    site_dir = tmp_path / "site"
    site.build_site([one_render], site_dir, settings(), now=T1)
    first = items_by_title(site_dir)["Never Let Me Go by Kazuo Ishiguro"]
    first_guid, first_date = first.findtext("guid"), first.findtext("pubDate")
    feed_bytes = (site_dir / "feed.xml").read_bytes()

    report = site.build_site([one_render], site_dir, settings(), now=T2)
    assert (site_dir / "feed.xml").read_bytes() == feed_bytes  # nothing changed: byte-identical feed
    assert report.copied == 0 and report.added == ()

    second = make_render(tmp_path / "output" / "remains", ffmpeg_exe, title="The Remains of the Day", frequency=660)
    report = site.build_site([one_render, second], site_dir, settings(), now=T3)
    assert report.added == ("remains",)
    items = items_by_title(site_dir)
    old = items["Never Let Me Go by Kazuo Ishiguro"]
    assert (old.findtext("guid"), old.findtext("pubDate")) == (first_guid, first_date)
    new = items["The Remains of the Day by Kazuo Ishiguro"]
    assert email.utils.parsedate_to_datetime(new.findtext("pubDate")) == T3
    assert new.findtext("guid") != first_guid
    assert [i.findtext("title") for i in channel_of(site_dir).findall("item")][0].startswith(
        "The Remains"
    )  # newest first

    registry = json.loads((site_dir / "episodes.json").read_text("utf-8"))
    by_slug = {e["slug"]: e for e in registry["episodes"]}
    assert by_slug["never-let-me-go"]["guid"] == first_guid
    assert by_slug["never-let-me-go"]["first_published"] == "2026-01-05T09:30:00Z"
    assert by_slug["remains"]["enclosure"]["bytes"] == (site_dir / "episodes/remains/remains.mp3").stat().st_size


def test_an_episode_not_named_again_stays_in_the_feed(tmp_path: Path, ffmpeg_exe: str, one_render: Path) -> None:
    site_dir = tmp_path / "site"
    site.build_site([one_render], site_dir, settings(), now=T1)
    guid = items_by_title(site_dir)["Never Let Me Go by Kazuo Ishiguro"].findtext("guid")
    second = make_render(tmp_path / "output" / "remains", ffmpeg_exe, title="The Remains of the Day")
    site.build_site([second], site_dir, settings(), now=T2)
    items = items_by_title(site_dir)
    assert set(items) == {"Never Let Me Go by Kazuo Ishiguro", "The Remains of the Day by Kazuo Ishiguro"}
    assert items["Never Let Me Go by Kazuo Ishiguro"].findtext("guid") == guid


def test_changed_audio_keeps_guid_and_date_but_updates_the_enclosure(
    tmp_path: Path, ffmpeg_exe: str, one_render: Path
) -> None:
    site_dir = tmp_path / "site"
    site.build_site([one_render], site_dir, settings(), now=T1)
    before = items_by_title(site_dir)["Never Let Me Go by Kazuo Ishiguro"]
    make_render(one_render, ffmpeg_exe, frequency=880, cover_size=1500)  # a re-render of the same book
    (one_render / "narration.mp3").write_bytes((one_render / "narration.mp3").read_bytes() + b"\x00" * 417)
    make_render_record = json.loads((one_render / "render.json").read_text("utf-8"))
    make_render_record["files"]["narration"]["bytes"] += 417
    make_render_record["files"]["narration"]["sha256"] = sha256_file(one_render / "narration.mp3")
    (one_render / "render.json").write_text(json.dumps(make_render_record), "utf-8")
    site.build_site([one_render], site_dir, settings(), now=T2)
    after = items_by_title(site_dir)["Never Let Me Go by Kazuo Ishiguro"]
    assert after.findtext("guid") == before.findtext("guid")
    assert after.findtext("pubDate") == before.findtext("pubDate")
    mp3 = site_dir / "episodes/never-let-me-go/never-let-me-go.mp3"
    assert (
        int(after.find("enclosure").get("length"))
        == mp3.stat().st_size
        == (one_render / "narration.mp3").stat().st_size
    )
    assert email.utils.parsedate_to_datetime(channel_of(site_dir).findtext("lastBuildDate")) == T2


def test_markup_in_titles_is_escaped_in_feed_and_page(tmp_path: Path, ffmpeg_exe: str) -> None:
    evil = '<script>alert("x")</script> & "Co"'
    render = make_render(tmp_path / "evil", ffmpeg_exe, title=evil, author="A <b>Bold</b> Author", description=evil)
    site_dir = tmp_path / "site"
    site.build_site([render], site_dir, settings(title=f"Show {evil}", author=f"Me {evil}"), now=T1)
    feed_text = (site_dir / "feed.xml").read_text("utf-8")
    page = (site_dir / "index.html").read_text("utf-8")
    assert "<script>alert" not in feed_text and "<b>Bold" not in feed_text
    assert "<script>alert" not in page and "<b>Bold" not in page
    assert "&lt;script&gt;alert" in page
    parsed = feedparser.parse(feed_text)
    assert parsed.bozo == 0
    assert parsed.feed.title == f"Show {evil}"
    assert parsed.entries[0].title == f"{evil} by A <b>Bold</b> Author"
    episode_page = (site_dir / "episodes" / "evil" / "index.html").read_text("utf-8")
    assert "<script>alert" not in episode_page and "<b>Bold" not in episode_page
    assert "&lt;script&gt;alert" in episode_page
    # The player's own script, nothing else.
    assert re.findall(r"<script[^>]*>", page) == ['<script src="static/player.js" defer>']
    assert re.findall(r"<script[^>]*>", episode_page) == ['<script src="../../static/player.js" defer>']


def test_control_characters_do_not_break_the_feed(tmp_path: Path, ffmpeg_exe: str) -> None:
    render = make_render(tmp_path / "ctl", ffmpeg_exe, title="Bell\x07 and\x0b tab")
    site.build_site([render], tmp_path / "site", settings(), now=T1)
    assert feedparser.parse(str(tmp_path / "site" / "feed.xml")).entries[0].title == "Bell and tab by Kazuo Ishiguro"


# ------------------------------------------------------------------------------------------ covers


def test_a_cover_is_generated_when_the_episode_cover_is_too_small(tmp_path: Path, ffmpeg_exe: str) -> None:
    render = make_render(tmp_path / "small", ffmpeg_exe, cover_size=600)
    report = site.build_site([render], tmp_path / "site", settings(), now=T1)
    with Image.open(tmp_path / "site" / "cover.jpg") as art:
        assert art.format == "JPEG" and art.width == art.height and 1400 <= art.width <= 3000
    assert any("generated" in w for w in report.warnings)
    # The small episode cover is not offered to Apple as episode art.
    assert channel_of(tmp_path / "site").find("item/itunes:image", NS) is None


def test_a_user_cover_must_be_square_podcast_art(tmp_path: Path, one_render: Path) -> None:
    wide = tmp_path / "wide.png"
    Image.new("RGB", (2000, 1400), "navy").save(wide)
    with pytest.raises(InputError, match="2000×1400 is not square"):
        site.build_site([one_render], tmp_path / "site", settings(cover=wide), now=T1)
    good = tmp_path / "art.png"
    Image.new("RGB", (1600, 1600), "teal").save(good)
    site.build_site([one_render], tmp_path / "site", settings(cover=good), now=T1)
    with Image.open(tmp_path / "site" / "cover.jpg") as art:
        assert (art.format, art.size) == ("JPEG", (1600, 1600))


# ------------------------------------------------------------------------------------------ the page


def test_pages_have_player_chapters_transcript_video_and_subscribe_links(tmp_path: Path, one_render: Path) -> None:
    playlist = tmp_path / "playlist.jspf"
    playlist.write_text(
        json.dumps(
            {
                "playlist": {
                    "title": "Curated",
                    "track": [
                        {"location": ["https://video.example/watch?v=1&t=2"], "title": "Ishiguro <interview>",
                         "creator": "Books & Co", "duration": 754000, "image": "https://img.example/1.jpg",
                         "annotation": "A talk.",
                         "extension": {"urn:nlmg-media:video": [{"status": "ok", "kind": "interview"}]}},
                        {"location": "https://video.example/gone", "title": "Removed video",
                         "extension": {"urn:nlmg-media:video": {"status": "unavailable"}}},
                        {"location": "javascript:alert(1)", "title": "Sneaky",
                         "extension": {"urn:nlmg-media:video": {"status": "ok"}}},
                    ],
                }
            }
        ),
        "utf-8",
    )  # fmt: skip
    site_dir = tmp_path / "site"
    site.build_site([one_render], site_dir, settings(videos=playlist), now=T1)
    show = (site_dir / "index.html").read_text("utf-8")
    assert '<audio controls preload="metadata" src="episodes/never-let-me-go/never-let-me-go.mp3">' in show
    assert 'href="episodes/never-let-me-go/"' in show
    page = (site_dir / "episodes" / "never-let-me-go" / "index.html").read_text("utf-8")
    assert '<audio controls preload="metadata" src="../../episodes/never-let-me-go/never-let-me-go.mp3">' in page
    assert (
        '<button type="button" data-start="1.500" data-title="After Never Let Me Go"><span class="t">0:01</span> '
        "<span>After Never Let Me Go</span></button>"
    ) in page
    assert re.search(r'<span data-s="[0-9.]+" data-e="[0-9.]+">secret\.</span>', page)
    assert 'src="../../episodes/never-let-me-go/never-let-me-go.mp4"' in page
    for text in (show, page):
        assert f'<code class="feed-url">{BASE}/feed.xml</code>' in text and f'data-copy="{BASE}/feed.xml"' in text
        assert "overcast://x-callback-url/add?url=https%3A%2F%2Fexample.org%2Fpod%2Ffeed.xml" in text
        assert 'href="podcast://example.org/pod/feed.xml"' in text
        assert 'href="https://video.example/watch?v=1&amp;t=2"' in text
        assert "Ishiguro &lt;interview&gt;" in text and "Books &amp; Co · 12:34" in text
        assert "Removed video" not in text and "Sneaky" not in text and "javascript:" not in text


def test_unreadable_playlist_is_an_input_error(tmp_path: Path, one_render: Path) -> None:
    bad = tmp_path / "playlist.jspf"
    bad.write_text("{not json", "utf-8")
    with pytest.raises(InputError, match="unreadable curated video playlist"):
        site.build_site([one_render], tmp_path / "site", settings(videos=bad), now=T1)


def test_a_damaged_registry_is_not_overwritten(built: Path, one_render: Path) -> None:
    (built / "episodes.json").write_text("{broken", "utf-8")
    with pytest.raises(InputError, match="unreadable episode registry"):
        site.build_site([one_render], built, settings(), now=T2)
    assert (built / "episodes.json").read_text("utf-8") == "{broken"


# ------------------------------------------------------------------------------------------ targets


def test_folder_target_copies_only_what_changed(built: Path, tmp_path: Path) -> None:
    target = tmp_path / "www"
    first = publish.publish_site(built, str(target))
    assert len(first.uploaded) == len(publish.site_files(built)) and first.unchanged == ()
    assert first.uploaded[-1] == "feed.xml"  # the feed goes last
    assert not any(name.startswith(".") for name in first.uploaded)
    assert publish.publish_site(built, str(target)).uploaded == ()
    (built / "episodes/never-let-me-go/captions.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nHi\n", "utf-8")
    assert publish.publish_site(built, str(target)).uploaded == ("episodes/never-let-me-go/captions.srt",)
    with pytest.raises(InputError, match="is the site folder or inside it"):
        publish.publish_site(built, str(built / "copy"))


def new_bucket(session: boto3.session.Session, endpoint: str) -> str:
    name = f"pod-{uuid.uuid4().hex[:12]}"
    session.client("s3", endpoint_url=endpoint).create_bucket(Bucket=name)
    return name


def test_s3_publish_uploads_only_what_changed(built: Path, s3_endpoint: str, s3_session: boto3.session.Session) -> None:
    bucket = new_bucket(s3_session, s3_endpoint)
    destination = f"s3://{bucket}/shows/books"
    first = publish.publish_site(built, destination, endpoint_url=s3_endpoint, session=s3_session)
    total = len(publish.site_files(built))
    assert (len(first.uploaded), len(first.unchanged)) == (total, 0)

    second = publish.publish_site(built, destination, endpoint_url=s3_endpoint, session=s3_session)
    assert (len(second.uploaded), len(second.unchanged)) == (0, total)

    (built / "episodes/never-let-me-go/chapters.json").write_text('{"version": "1.2.0", "chapters": []}', "utf-8")
    third = publish.publish_site(built, destination, endpoint_url=s3_endpoint, session=s3_session)
    assert third.uploaded == ("episodes/never-let-me-go/chapters.json",)
    assert third.summary == f"1 uploaded, {total - 1} unchanged → {destination}"

    client = s3_session.client("s3", endpoint_url=s3_endpoint)
    head = client.head_object(Bucket=bucket, Key="shows/books/feed.xml")
    assert head["ContentType"] == "application/xml; charset=utf-8" and head["ContentEncoding"] == "gzip"
    assert head["CacheControl"] == "public, max-age=300"
    mp3 = client.head_object(Bucket=bucket, Key="shows/books/episodes/never-let-me-go/never-let-me-go.mp3")
    assert mp3["ContentType"] == "audio/mpeg" and mp3["CacheControl"] == "public, max-age=86400"
    assert mp3["ContentLength"] == (built / "episodes/never-let-me-go/never-let-me-go.mp3").stat().st_size
    body = client.get_object(Bucket=bucket, Key="shows/books/feed.xml")["Body"].read()
    assert gzip.decompress(body) == (built / "feed.xml").read_bytes()


def test_s3_missing_bucket_is_an_output_error(built: Path, s3_endpoint: str, s3_session: boto3.session.Session) -> None:
    with pytest.raises(OutputError, match="bucket 'no-such-bucket' does not exist"):
        publish.publish_site(built, "s3://no-such-bucket/x", endpoint_url=s3_endpoint, session=s3_session)


def test_s3_unreachable_endpoint_fails_fast(built: Path, s3_session: boto3.session.Session) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from pipeline.errors import NetworkError

    with pytest.raises(NetworkError, match="cannot reach the object store"):
        publish.publish_site(built, "s3://b/x", endpoint_url=f"http://127.0.0.1:{port}", session=s3_session)


# ------------------------------------------------------------------------------------------ the command


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ffmpeg_exe: str) -> Path:
    """A working folder with output/<slug>/render.json, as `nlmg-media render` leaves it."""
    monkeypatch.chdir(tmp_path)
    make_render(tmp_path / "output" / "never-let-me-go", ffmpeg_exe)
    (tmp_path / "output" / "videos").mkdir()
    (tmp_path / "output" / ".cache").mkdir()
    return tmp_path


def test_cli_without_base_url_is_an_error(project: Path) -> None:
    result = CliRunner().invoke(main, ["publish"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: no base URL: pass --base-url URL (the public address of the site, e.g. https://example.org/podcast)"
        " or set base_url in the [publish] table of nlmg-media.toml\n"
    )
    assert not (project / "output" / "site").exists()


def test_cli_rejects_a_category_apple_does_not_list(project: Path) -> None:
    result = CliRunner().invoke(main, ["publish", "--base-url", BASE, "--category", "Arts › Novels"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: 'Novels' is not a subcategory of 'Arts' in Apple Podcasts (choices: Books, Design, Fashion & Beauty,"
        " Food, Performing Arts, Visual Arts)\n"
    )


def test_cli_rejects_a_relative_base_url(project: Path) -> None:
    result = CliRunner().invoke(main, ["publish", "--base-url", "example.org/pod"])
    assert result.exit_code == 1
    assert result.output == (
        "Error: --base-url must be an absolute http(s) URL such as https://example.org/podcast, got 'example.org/pod'\n"
    )


def test_cli_uses_the_project_file_and_finds_renders(project: Path) -> None:
    (project / "nlmg-media.toml").write_text(
        '[publish]\nbase_url = "https://cdn.example.net/books/"\ntitle = "From the file"\nauthor = "File Author"\n'
        'email = "file@example.net"\ncategory = "Society & Culture › Philosophy"\nexplicit = false\n',
        "utf-8",
    )
    result = CliRunner(mix_stderr=False).invoke(main, ["publish", "--title", "From the option"])
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output == (
        "Built output/site: 1 episode(s) (1 new), 7 file(s) copied\nFeed: https://cdn.example.net/books/feed.xml\n"
    )
    channel = channel_of(project / "output" / "site")
    assert channel.findtext("title") == "From the option"  # option over file
    assert channel.findtext("itunes:author", namespaces=NS) == "File Author"
    assert channel.find("itunes:category", NS).get("text") == "Society & Culture"
    assert channel.find("atom:link", NS).get("href") == "https://cdn.example.net/books/feed.xml"
    assert not (project / "output" / "site" / "episodes" / "videos").exists()


def test_cli_rejects_unknown_project_keys(project: Path) -> None:
    (project / "nlmg-media.toml").write_text('[publish]\nbase_url = "https://x.example"\nbucket = "b"\n', "utf-8")
    result = CliRunner().invoke(main, ["publish"])
    assert (result.exit_code, result.output) == (1, "Error: project config [publish] has an unknown key 'bucket'\n")


def test_cli_publishes_to_s3_and_reports_counts(
    project: Path, s3_endpoint: str, s3_session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = new_bucket(s3_session, s3_endpoint)
    # The command uses boto3's usual credential chain; point it at dummy values only.
    dummy = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(project / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(project / "none"),
    }
    for key, value in dummy.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    args = ["publish", "--base-url", BASE, "--title", "T", "--to", f"s3://{bucket}", "--endpoint-url", s3_endpoint]
    first = CliRunner(mix_stderr=False).invoke(main, args)
    assert first.exit_code == 0, first.stderr
    total = len(publish.site_files(project / "output" / "site"))
    assert first.output.splitlines()[-1] == f"Published: {total} uploaded, 0 unchanged → s3://{bucket}"
    again = CliRunner(mix_stderr=False).invoke(main, args)
    assert again.output.splitlines()[-1] == f"Published: 0 uploaded, {total} unchanged → s3://{bucket}"


def test_cli_with_nothing_rendered_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["publish", "--base-url", BASE])
    assert (result.exit_code, result.output) == (
        1,
        "Error: no episodes to publish: render a summary first (`nlmg-media render`) or name render folders\n",
    )


def test_every_command_has_help() -> None:
    for command in ("publish", "serve"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and re.search(r"Usage: .* " + command, result.output)


def test_slugs_must_be_unique(tmp_path: Path, ffmpeg_exe: str) -> None:
    a = make_render(tmp_path / "a", ffmpeg_exe, slug="same")
    b = make_render(tmp_path / "b", ffmpeg_exe, slug="same")
    with pytest.raises(InputError, match="two render folders have the slug 'same'"):
        site.build_site([a, b], tmp_path / "site", settings(), now=T1)
    shutil.rmtree(tmp_path / "site", ignore_errors=True)


def test_a_render_json_without_duration_is_measured_from_the_mp3(tmp_path: Path, one_render: Path) -> None:
    record = json.loads((one_render / "render.json").read_text("utf-8"))
    del record["duration"]
    (one_render / "render.json").write_text(json.dumps(record), "utf-8")
    site.build_site([one_render], tmp_path / "site", settings(), now=T1)
    assert channel_of(tmp_path / "site").findtext("item/itunes:duration", namespaces=NS) == "3"


@pytest.mark.media
def test_a_real_render_publishes_to_a_valid_feed(short_render: dict, tmp_path: Path) -> None:
    """The lead's real `render` output (piper narration), not a hand-made folder, goes through publish."""
    site_dir = tmp_path / "site"
    site.build_site([short_render["out"]], site_dir, settings(), now=T1)
    assert feedparser.parse(str(site_dir / "feed.xml")).bozo == 0
    with open(site_dir / "feed.xml", "rb") as stream:
        (episode,) = podcastparser.parse(f"{BASE}/feed.xml", stream)["episodes"]
    (enclosure,) = episode["enclosures"]
    mp3 = site_dir / enclosure["url"].removeprefix(BASE + "/")
    assert enclosure["file_size"] == mp3.stat().st_size
    assert abs(episode["total_time"] - short_render["result"].duration) <= 1
    assert episode["transcript_url"] and episode["chapters_json_url"]
    chapters = json.loads(short_render["result"].files["chapters"].read_text("utf-8"))["chapters"]
    assert [c["title"] for c in episode["chapters"]] == [c["title"] for c in chapters]
    with Image.open(site_dir / "cover.jpg") as art:
        assert art.width == art.height and 1400 <= art.width <= 3000
