"""Slugs: readable (transliterated), never reserved, unique per book; a book never takes another one's folder
or GUID."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from support import make_render

from pipeline.cli import main
from pipeline.narration.document import RESERVED_SLUGS, slug_problem, slugify
from pipeline.publishing import site

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Never Let Me Go", "never-let-me-go"),
        ("Война и мир", "voyna-i-mir"),
        ("Crème brûlée", "creme-brulee"),
        ("百年孤独", "bai-nian-gu-du"),
        ("📚🔥", "books-fire"),
        ("Site", "site-book"),
        ("Videos", "videos-book"),
        (".cache", "cache-book"),
        ("CON", "con-book"),
    ],
)
def test_titles_in_any_script_get_readable_slugs(title: str, slug: str) -> None:
    assert slugify(title) == slug


def test_titles_that_used_to_collide_on_summary_are_told_apart() -> None:
    titles = ["Война и мир", "ノルウェイの森", "📚", "🔥", "!!!", "???", "…", "Summary"]
    slugs = [slugify(t) for t in titles]
    assert len(set(slugs)) == len(slugs), slugs
    assert all(SLUG.match(s) for s in slugs)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_every_title_gets_a_valid_slug(title: str) -> None:
    slug = slugify(title)
    assert SLUG.match(slug) and len(slug) <= 80
    assert slug not in RESERVED_SLUGS
    assert slug_problem(slug) is None


@pytest.mark.parametrize("bad", ["site", "Videos", "a b", "-x", "x--y", "../x", "ü", "a" * 81, ""])
def test_bad_slugs_are_refused_in_one_line(bad: str, tmp_path: Path) -> None:
    summary = tmp_path / "s.md"
    summary.write_text("# Book\n\nOne sentence.\n", "utf-8")
    result = CliRunner().invoke(main, ["render", str(summary), "--slug", bad, "--cache", str(tmp_path / "c")])
    assert result.exit_code == 1
    assert result.output.startswith("Error: --slug ") and result.output.count("\n") == 1, result.output


def _summary(folder: Path, name: str, title: str, author: str) -> Path:
    path = folder / f"{name}.md"
    path.write_text(f"# {title}\n*by {author}*\n\nA short sentence about {name}.\n", "utf-8")
    return path


@pytest.mark.media
def test_a_second_book_never_takes_the_first_ones_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    war = _summary(tmp_path, "war", "Война и мир", "Лев Толстой")
    other = _summary(tmp_path, "other", "Voyna i Mir", "Someone Else")  # same slug, another book
    runner = CliRunner()

    def render(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, ["render", *args, "--no-video", "--json", "--no-progress"])
        return result.exit_code, result.output

    code, output = render(str(war))
    assert code == 0, output
    first = json.loads(output)["out_dir"]
    assert Path(first) == Path("output/voyna-i-mir")
    code, output = render(str(other))
    assert code == 0, output
    second = Path(json.loads(output)["out_dir"])
    assert second != Path(first) and second.name.startswith("voyna-i-mir-")
    records = [json.loads((Path(f) / "render.json").read_text("utf-8")) for f in (first, second)]
    assert records[0]["title"] == "Война и мир" and records[1]["title"] == "Voyna i Mir"
    assert records[0]["slug"] != records[1]["slug"] == second.name

    # Named explicitly, another book's folder is refused in one line, and replaced only with --force.
    code, output = render(str(other), "--out", first)
    assert code == 1 and output.startswith("Error: ") and output.count("\n") == 1 and "--force" in output
    assert json.loads((Path(first) / "render.json").read_text("utf-8"))["title"] == "Война и мир"
    code, output = render(str(other), "--out", first, "--force")
    assert code == 0, output

    # --slug chooses the folder and the slug.
    code, output = render(str(war), "--slug", "war-and-peace")
    assert code == 0, output
    assert json.loads(Path("output/war-and-peace/render.json").read_text("utf-8"))["slug"] == "war-and-peace"


def test_publish_never_gives_one_books_guid_to_another(tmp_path: Path, ffmpeg_exe: str) -> None:
    settings = site.SiteSettings(base_url="https://example.org/p", title="Show", email="me@example.org")
    first = make_render(tmp_path / "a", ffmpeg_exe, title="Война и мир", author="Лев Толстой", slug="summary")
    site.build_site([first], tmp_path / "site", settings)
    guid = json.loads((tmp_path / "site" / "episodes.json").read_text("utf-8"))["episodes"][0]["guid"]
    second = make_render(tmp_path / "b", ffmpeg_exe, title="ノルウェイの森", author="村上春樹", slug="summary")
    result = CliRunner().invoke(
        main, ["publish", str(second), "--site", str(tmp_path / "site"), "--base-url", "https://example.org/p",
               "--title", "Show", "--email", "me@example.org"],
    )  # fmt: skip
    assert result.exit_code == 1 and result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert "Война и мир" in result.output and "--slug" in result.output
    registry = json.loads((tmp_path / "site" / "episodes.json").read_text("utf-8"))
    assert [e["guid"] for e in registry["episodes"]] == [guid]
    assert registry["episodes"][0]["book"]["title"] == "Война и мир"
