"""``nlmg-media doctor``: check the environment and print a table (or JSON) with a fix for each failure."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from pipeline.doctor import run_checks


@click.command()
@click.option("--out", "output_dir", type=click.Path(path_type=Path), default=Path("output"), show_default=True,
              help="Output folder whose writability is checked.")  # fmt: skip
@click.option("--network/--no-network", default=False, show_default=True,
              help="Also check that gTTS's and YouTube's servers can be reached (3 s timeout each).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@click.pass_context
def doctor(ctx: click.Context, output_dir: Path, network: bool, as_json: bool) -> None:
    """Check ffmpeg (and its encoders/filters), the offline engines' voices (hibari, piper), fonts, the output
    folder and, with --network, internet access for gTTS and yt-dlp. Exits 1 when a required check fails."""
    checks = run_checks(ctx.obj["ffmpeg"], output_dir, network=network)
    if as_json:
        click.echo(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
            click.echo(f"{mark}  {c.name:<{width}}  {c.detail}")
            if not c.ok:
                click.echo(f"      {'':<{width}}  fix: {c.fix}")
    if any(c.required and not c.ok for c in checks):
        ctx.exit(1)
