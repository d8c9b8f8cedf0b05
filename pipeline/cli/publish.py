"""``nlmg-media publish`` and ``nlmg-media serve``: the podcast feed and site, and a local server for it.

Settings come from options, then from the ``[publish]`` table of ``nlmg-media.toml``, then from defaults in
``pipeline.publishing.site.SiteSettings``. The commands only wire options to ``site.build_site``,
``publish.publish_site`` and ``serve.make_server``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pipeline.cli.settings import layered
from pipeline.errors import InputError
from pipeline.progress import ProgressEvent
from pipeline.publishing import feed, site
from pipeline.publishing import serve as site_server
from pipeline.publishing import targets as publish_target
from pipeline.publishing.registry import load_registry

DEFAULT_OUTPUT = Path("output")
DEFAULT_SITE = DEFAULT_OUTPUT / "site"
DEFAULT_VIDEOS = DEFAULT_OUTPUT / "videos" / "playlist.jspf"

# The [publish] table of nlmg-media.toml: key → TOML type. Options given on the command line win.
PROJECT_SCHEMA: dict[str, type] = {
    **dict.fromkeys(("base_url", "title", "description", "author", "email", "category", "language", "site", "to",
                     "endpoint_url", "cover", "videos"), str),
    "explicit": bool, "locked": bool,
}  # fmt: skip
_OPTION_OF = {"site": "site_dir", "to": "destination"}

NO_BASE_URL = (
    "no base URL: pass --base-url URL (the public address of the site, e.g. https://example.org/podcast) "
    "or set base_url in the [publish] table of nlmg-media.toml"
)


@click.command()
@click.argument("render_dirs", nargs=-1, metavar="[RENDER_DIR]...")
@click.option("--base-url", metavar="URL", help="Public address of the site; feed and enclosure URLs start with it.")
@click.option("--site", "site_dir", type=click.Path(file_okay=False, path_type=Path),
              help=f"Folder the site is built in (default: {DEFAULT_SITE}).")  # fmt: skip
@click.option("--to", "destination", metavar="DEST", help="Also copy the site to a folder or s3://bucket/prefix.")
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO, R2, …) for --to s3://.")
@click.option("--title", help="Show title (default: named after the book when there is one episode).")
@click.option("--description", help="Show description.")
@click.option("--author", help="Show author (itunes:author and owner name).")
@click.option("--email", help="Owner e-mail (itunes:owner, podcast:locked owner); Apple and Spotify need it.")
@click.option("--category", help=f"Apple Podcasts category (default: '{feed.DEFAULT_CATEGORY}').")
@click.option("--language", help="Feed language code (default: en).")
@click.option("--explicit/--clean", default=None, help="itunes:explicit true or false (default: false).")
@click.option("--cover", type=click.Path(dir_okay=False, path_type=Path),
              help="Show art: square JPEG/PNG, 1400–3000 px (default: an episode cover or generated).")  # fmt: skip
@click.option("--videos", type=click.Path(dir_okay=False, path_type=Path),
              help=f"Curated videos (JSPF) listed on the page (default: {DEFAULT_VIDEOS} if present).")  # fmt: skip
@click.pass_context
def publish(
    ctx: click.Context,
    render_dirs: tuple[str, ...],
    base_url: str | None,
    site_dir: Path | None,
    destination: str | None,
    endpoint_url: str | None,
    title: str | None,
    description: str | None,
    author: str | None,
    email: str | None,
    category: str | None,
    language: str | None,
    explicit: bool | None,
    cover: Path | None,
    videos: Path | None,
) -> None:
    """Build the podcast feed and static site from rendered summaries.

    RENDER_DIR… are render folders (with render.json); by default every output/*/ folder that has one.
    Episodes published before stay in the feed with their GUID and date, even when not named again.
    """
    values = layered(ctx, "publish", PROJECT_SCHEMA, _OPTION_OF)

    def pick(value: Any, key: str) -> Any:
        return values.get(_OPTION_OF.get(key, key))

    base_url = pick(base_url, "base_url")
    if not base_url:
        raise InputError(NO_BASE_URL)
    site_dir = Path(pick(site_dir, "site") or DEFAULT_SITE)
    cover = pick(cover, "cover")
    videos = pick(videos, "videos")
    if videos is None and DEFAULT_VIDEOS.is_file():
        videos = DEFAULT_VIDEOS
    settings = site.SiteSettings(
        base_url=base_url,
        title=pick(title, "title"),
        description=pick(description, "description"),
        author=pick(author, "author"),
        email=pick(email, "email"),
        category=pick(category, "category") or feed.DEFAULT_CATEGORY,
        language=pick(language, "language") or "en",
        explicit=bool(pick(explicit, "explicit")),
        locked=values.get("locked", True),
        cover=Path(cover) if cover else None,
        videos=Path(videos) if videos else None,
    )
    folders = _render_folders(render_dirs, pick(endpoint_url, "endpoint_url")) or site.find_render_dirs(DEFAULT_OUTPUT)
    report = site.build_site(folders, site_dir, settings, progress=_show_step)
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)
    new = f" ({len(report.added)} new)" if report.added else ""
    click.echo(f"Built {site_dir}: {len(report.episodes)} episode(s){new}, {report.copied} file(s) copied")
    click.echo(f"Feed: {report.feed_url}")
    destination = pick(destination, "to")
    if destination:
        sent = publish_target.publish_site(
            site_dir,
            destination,
            endpoint_url=pick(endpoint_url, "endpoint_url"),
            progress=_show_step,
        )
        for note in sent.notes:
            click.echo(f"Warning: {note}", err=True)
        click.echo(f"Published: {sent.summary}")


def _render_folders(given: tuple[str, ...], endpoint_url: str | None) -> list[Path]:
    """Render folders as named; ``s3://bucket/prefix`` stands for every complete book a catalogue uploaded there,
    copied first to ``output/.catalogue/bucket/prefix/<slug>/``."""
    from pipeline.catalogue import storage

    folders: list[Path] = []
    for name in given:
        if not storage.is_remote(name):
            folders.append(Path(name))
            continue
        local = DEFAULT_OUTPUT / ".catalogue" / name.removeprefix("s3://").strip("/")
        fetched = storage.fetch_renders(name, local, endpoint_url=endpoint_url)
        if not fetched:
            raise InputError(f"no rendered books under {name} (a book appears once its current.json is written)")
        folders += [book.folder for book in fetched]
    return folders


@click.command()
@click.option("--site", "site_dir", type=click.Path(file_okay=False, path_type=Path),
              help=f"Site folder to serve (default: [publish] site, else {DEFAULT_SITE}).")  # fmt: skip
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. 127.0.0.1: this machine only; --host 0.0.0.0: every network interface "
              "(phones on the LAN can subscribe, and so can anyone else on that network).")  # fmt: skip
@click.option("--quiet", is_flag=True, help="Do not log requests.")
@click.pass_context
def serve(ctx: click.Context, site_dir: Path | None, port: int, host: str, quiet: bool) -> None:
    """Serve the site locally: Range and HEAD for podcast apps, 304s, gzip and CORS for web players.

    Serves only the site's own regular files (no dot-files, no links out of the folder), on 127.0.0.1 unless
    --host says otherwise. It is a preview server for your network, not for the internet.

    The feed's URLs come from --base-url at publish time: to subscribe from a phone on the LAN, publish with
    --base-url http://THIS-MACHINE:PORT and serve with --host 0.0.0.0.
    """
    values = layered(ctx, "publish", PROJECT_SCHEMA, _OPTION_OF)
    folder = Path(values["site_dir"] or DEFAULT_SITE)
    server = site_server.make_server(folder, host, port, log=None if quiet else lambda line: click.echo(line, err=True))
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    click.echo(f"Serving {folder} on http://{bound_host}:{bound_port}/ (Ctrl-C to stop)")
    registry = load_registry(folder)
    if registry.channel.get("feed_url"):
        click.echo(f"The feed's own address is {registry.channel['feed_url']} (set by --base-url at publish)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("Stopped.")
    finally:
        server.server_close()


def _show_step(event: ProgressEvent) -> None:
    """Publishing reports each step (an episode, a copied or uploaded file) as a line under the command."""
    click.echo(f"  {event.detail}", err=True)
