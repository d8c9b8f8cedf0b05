"""``nlmg-media videos``: curated third-party videos — ``refresh``, ``list`` and ``approve``.

Click only: each command resolves its settings (option, else the project file's ``[videos]`` table, else the
default in ``pipeline.curation``) and calls one function of ``pipeline.curation``. Progress is drawn on stderr
when it is a terminal; the summary line goes to stdout.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from pipeline import curation
from pipeline.cli.settings import layered
from pipeline.curation.playlist import one_line
from pipeline.errors import ConfigError
from pipeline.progress import ProgressEvent, quiet
from pipeline.times import clock

_DEFAULTS = curation.RefreshSettings()

# The [videos] table of nlmg-media.toml: key → TOML type. Options given on the command line win.
PROJECT_SCHEMA: dict[str, type] = {
    "list": str, "out": str, "jobs": int, "max_age": float, "timeout": float, "retries": int, "sleep": float,
    "proxy": str, "deadline": float,
}  # fmt: skip
_OPTION_OF = {"list": "list_path", "out": "out_dir"}


def _settings() -> dict[str, Any]:
    return layered(click.get_current_context(), "videos", PROJECT_SCHEMA, _OPTION_OF)


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


@click.group()
def videos() -> None:
    """Gather metadata for curated third-party videos into a playlist manifest.

    \b
    refresh  check every curated video with yt-dlp (metadata only) and run discovery searches
    list     show the manifest: approved videos and candidates
    approve  move a candidate into the curated list
    """


def _list_option(function: Any) -> Any:
    return click.option(
        "--list",
        "list_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help=f"Curated list (default: {curation.DEFAULT_LIST}).",
    )(function)


def _out_option(function: Any) -> Any:
    return click.option(
        "--out",
        "out_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help=f"Folder for the manifest and playlists (default: {curation.DEFAULT_OUT}).",
    )(function)


@videos.command()
@_list_option
@_out_option
@click.option("--jobs", type=click.IntRange(1, 32), default=None, help="Parallel checks (default: 4).")
@click.option(
    "--max-age",
    type=click.FloatRange(min=0),
    default=None,
    metavar="HOURS",
    help="Re-check entries older than this (default: 24); unreachable, rate-limited and errored ones always.",
)
@click.option("--force", is_flag=True, help="Re-check every entry and search, however fresh.")
@click.option("--strict", is_flag=True, help="Exit 1 if any approved video is not ok.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=None,
    metavar="SECONDS",
    help="Socket timeout per request (default: 10).",
)
@click.option(
    "--retries",
    type=click.IntRange(1, 10),
    default=None,
    help="Tries per entry when a site is unreachable or rate-limiting, counting the first (default: 3).",
)
@click.option(
    "--sleep",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Polite pause before each request (default: 0).",
)
@click.option("--proxy", default=None, metavar="URL", help='Proxy for yt-dlp ("" for a direct connection).')
@click.option("--no-discover", is_flag=True, help="Skip the discovery searches; keep the last candidates.")
@click.option(
    "--deadline",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Give up checks still running after this long; they keep their last-known metadata (default: 600). "
    "Each check also stops after --timeout × --retries seconds however slowly a site trickles.",
)
def refresh(
    list_path: Path | None,
    out_dir: Path | None,
    jobs: int | None,
    max_age: float | None,
    force: bool,
    strict: bool,
    timeout: float | None,
    retries: int | None,
    sleep: float | None,
    proxy: str | None,
    no_discover: bool,
    deadline: float | None,
) -> None:
    """Check the curated videos and write manifest.json, playlist.jspf, playlist.m3u8 and index.html.

    A failed check never erases what the last good one found: the entry keeps its metadata and gets a status
    (private, removed, unavailable, geo_blocked, age_restricted, rate_limited, unreachable, error).
    """
    values = _settings()
    settings = curation.RefreshSettings(
        jobs=_or(values["jobs"], _DEFAULTS.jobs),
        max_age=timedelta(hours=_or(values["max_age"], 24.0)),
        force=force,
        socket_timeout=_or(values["timeout"], _DEFAULTS.socket_timeout),
        attempts=_or(values["retries"], _DEFAULTS.attempts),
        sleep=_or(values["sleep"], _DEFAULTS.sleep),
        proxy=values["proxy"],
        discover=not no_discover,
        deadline=_or(values["deadline"], _DEFAULTS.deadline),
    )
    drawer = _ProgressDrawer() if sys.stderr.isatty() else None
    try:
        report = curation.refresh_videos(
            Path(_or(values["list_path"], curation.DEFAULT_LIST)),
            Path(_or(values["out_dir"], curation.DEFAULT_OUT)),
            settings,
            progress=drawer or quiet,
        )
    finally:
        if drawer is not None:
            drawer.close()
    click.echo(report.summary())
    for entry in report.not_ok:
        detail = f": {one_line(entry.error)}" if entry.error else ""
        click.echo(f"  {entry.status}: {entry.url}{detail}")
    if strict:
        curation.strict_check(report)


@videos.command("list")
@_out_option
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def list_videos(out_dir: Path | None, as_json: bool) -> None:
    """Show the manifest: approved videos, then candidates waiting for approval."""
    out = Path(_or(_settings()["out_dir"], curation.DEFAULT_OUT))
    manifest = curation.load_manifest(out)
    if manifest is None:
        raise ConfigError(f"no video manifest in {out}; run `nlmg-media videos refresh` first")
    if as_json:
        click.echo(json.dumps(manifest.to_json(), indent=2, ensure_ascii=False))
        return
    header = ("ROLE", "STATUS", "KIND", "LENGTH", "ID", "TITLE", "CHANNEL")
    rows = [
        (
            entry.role,
            entry.status,
            entry.kind,
            clock(entry.duration),
            _cell(entry.id, 16),
            _cell(entry.display_title, 60),
            _cell(entry.creator, 24),
        )
        for entry in manifest.entries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    click.echo(
        f"{len(manifest.approved)} approved, {len(manifest.candidates)} candidates"
        + (f"; refreshed {manifest.refreshed_at}" if manifest.refreshed_at else "")
    )


@videos.command()
@click.argument("id_or_url", metavar="ID_OR_URL")
@click.option("--kind", type=click.Choice(curation.KINDS), default=None, help="Kind (default: the search's).")
@click.option("--note", default=None, help="Why a reader should watch it.")
@_list_option
@_out_option
def approve(id_or_url: str, kind: str | None, note: str | None, list_path: Path | None, out_dir: Path | None) -> None:
    """Move a discovery candidate (by id or URL) into the curated list."""
    values = _settings()
    list_file = Path(_or(values["list_path"], curation.DEFAULT_LIST))
    entry = curation.approve_video(
        list_file,
        Path(_or(values["out_dir"], curation.DEFAULT_OUT)),
        id_or_url,
        kind=kind,
        note=note,
    )
    title = f"{_cell(entry.title, 80)} " if entry.title else ""
    click.echo(f"Approved {title}<{entry.url}> as {entry.kind} in {list_file}")


class _ProgressDrawer:
    """A progress bar on stderr, created on the first report (the total is only known then)."""

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, event: ProgressEvent) -> None:
        if self._bar is None:
            self._bar = click.progressbar(
                length=int(event.total),
                label=event.stage,
                file=sys.stderr,
                item_show_func=lambda label: label,
            )
            self._bar.__enter__()
        self._bar.update(1, current_item=_cell(f"{event.status}: {event.detail}", 50))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _cell(text: str | None, width: int) -> str:
    """Third-party text made safe for a terminal (no control sequences) and cut to ``width``."""
    line = one_line(text)
    return line if len(line) <= width else line[: width - 1] + "…"
