"""The ``nlmg-media`` command line: Click only. Each command parses options and calls one stage function.

Every expected failure (``NlmgError``, a Click usage error) becomes one line ``Error: …`` and exit status 1;
Ctrl-C prints one line and exits 130. Tracebacks are left for bugs.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import __version__
from ..errors import NlmgError


class NlmgGroup(click.Group):
    """A group that reports every user-facing failure as a single ``Error:`` line."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except (_Interrupted, click.exceptions.Abort, KeyboardInterrupt):
            # On a terminal the "^C" echo ends the line first; to a pipe or log this is the only line.
            click.echo(("\n" if sys.stderr.isatty() else "") + "Interrupted.", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            _fail(exc.format_message())
        except NlmgError as exc:
            _fail(str(exc))
        except BrokenPipeError:
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:  # Click would print an empty line first; report it ourselves
            raise _Interrupted from exc


class _Interrupted(Exception):
    """Ctrl-C inside a command, carried past Click's own KeyboardInterrupt handling."""


def _fail(message: str) -> None:
    one_line = " ".join(message.split())
    click.echo(f"Error: {one_line}", err=True)
    sys.exit(1)


@click.group(cls=NlmgGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nlmg-media")
@click.option(
    "--ffmpeg",
    "ffmpeg_path",
    envvar="NLMG_FFMPEG",
    metavar="PATH",
    help="ffmpeg binary to use (default: the one bundled by imageio-ffmpeg). Env: NLMG_FFMPEG.",
)
@click.pass_context
def main(ctx: click.Context, ffmpeg_path: str | None) -> None:
    """Turn a one-page book summary into publishable media.

    \b
    render   narrate a summary: MP3, captions, chapters, transcript, video
    videos   gather metadata for curated third-party videos (yt-dlp)
    publish  build a podcast feed and a small static site
    serve    serve the site locally (HTTP Range support)
    doctor   check ffmpeg, voice, fonts, output folder and network
    """
    ctx.obj = {"ffmpeg": ffmpeg_path}


def _register() -> None:
    from . import doctor, publish, render, videos

    main.add_command(render.render)
    main.add_command(videos.videos)
    main.add_command(publish.publish)
    main.add_command(publish.serve)
    main.add_command(doctor.doctor)


_register()
