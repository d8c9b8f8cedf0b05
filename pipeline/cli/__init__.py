"""The ``nlmg-media`` command line: Click only. Each command parses options and calls one stage function.

Every expected failure (``NlmgError``, a Click usage error) becomes one line ``Error: …`` and exit status 1;
Ctrl-C prints one line and exits 130. Tracebacks are left for bugs.
"""

from __future__ import annotations

import errno
import logging
import shlex
import sys
import traceback
from typing import Any

import click

from pipeline import __version__
from pipeline.errors import MediaError, NlmgError


class NlmgGroup(click.Group):
    """A group that reports every user-facing failure as a single ``Error:`` line (with ``--debug``, after the
    traceback and, for a media failure, the ffmpeg command and its whole stderr)."""

    debug = False  # set by the --debug option of this run

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        self.debug = False
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except (_Interrupted, click.exceptions.Abort, KeyboardInterrupt):
            # On a terminal the "^C" echo ends the line first; to a pipe or log this is the only line.
            click.echo(("\n" if sys.stderr.isatty() else "") + "Interrupted.", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            _fail(exc.format_message())
        except NlmgError as exc:
            if self.debug:
                _explain(exc)
            _fail(str(exc))
        except BrokenPipeError:
            sys.exit(1)
        except OSError as exc:  # a full disk or quota met outside the writes that report it themselves
            if exc.errno not in _DISK_FULL:
                raise
            _fail(f"cannot write {exc.filename}: {exc.strerror}" if exc.filename else str(exc.strerror))
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:  # Click would print an empty line first; report it ourselves
            raise _Interrupted from exc


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class _Interrupted(Exception):
    """Ctrl-C inside a command, carried past Click's own KeyboardInterrupt handling."""


def _explain(error: NlmgError) -> None:
    """What ``--debug`` adds before the one line: the traceback, and ffmpeg's command and stderr if it failed."""
    click.echo("".join(traceback.format_exception(error)).rstrip(), err=True)
    if isinstance(error, MediaError) and error.command:
        click.echo(f"ffmpeg command: {shlex.join(error.command)}", err=True)
        click.echo(f"ffmpeg stderr:\n{error.stderr.rstrip()}", err=True)


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
@click.option(
    "--debug",
    is_flag=True,
    help="Show every ffmpeg command and its output, and the traceback behind an error.",
)
@click.pass_context
def main(ctx: click.Context, ffmpeg_path: str | None, debug: bool) -> None:
    """Turn a one-page book summary into publishable media.

    \b
    render   narrate a summary (or a catalogue of them): MP3, captions, chapters, transcript, video
    videos   gather metadata for curated third-party videos (yt-dlp)
    publish  build a podcast feed and a small static site
    serve    serve the site locally (HTTP Range support)
    doctor   check ffmpeg, voice, fonts, output folder and network
    worker   render books from a Redis queue (render --queue)
    queue    show the queue: queued, started, finished and failed books
    """
    if debug:
        ctx.command.debug = True  # type: ignore[attr-defined]
        logging.basicConfig(level=logging.DEBUG, format="debug: %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = {"ffmpeg": ffmpeg_path}


def _register() -> None:
    from pipeline.cli import catalogue, doctor, publish, render, videos

    main.add_command(render.render)
    main.add_command(videos.videos)
    main.add_command(publish.publish)
    main.add_command(publish.serve)
    main.add_command(doctor.doctor)
    main.add_command(catalogue.worker)
    main.add_command(catalogue.queue_group)


_register()
