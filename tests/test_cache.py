"""The cache removes only what it made: a marker says the folder is a cache, and only its own layout is pruned.

Real folders and real renders' entry names; the refusal goes through the command line as a user meets it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cache import MARKER_NAME, Cache
from pipeline.cli import main

KEY = "ab" + "0" * 62


def _user_files(folder: Path) -> dict[Path, bytes]:
    files = {
        folder / "holiday" / "day1.mp4": b"a user's video" * 1000,
        folder / "holiday" / "ab" / ("cd" + "0" * 62 + ".mp4"): b"looks like an entry, in a folder of theirs",
        folder / "notes.txt": b"keep me",
    }
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def test_render_refuses_a_folder_of_someone_elses_files_as_its_cache(tmp_path: Path) -> None:
    summary = tmp_path / "s.md"
    summary.write_text("# A Book\n\nOne sentence here.\n", "utf-8")
    videos = tmp_path / "Videos"
    files = _user_files(videos)
    result = CliRunner().invoke(
        main, ["render", str(summary), "--out", str(tmp_path / "out"), "--cache", str(videos), "--cache-limit", "1"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: cache folder ") and result.output.count("\n") == 1, result.output
    assert "not an nlmg-media cache" in result.output
    assert {p: p.read_bytes() for p in files} == files
    assert not (videos / MARKER_NAME).exists()


def test_a_new_or_empty_folder_becomes_a_marked_cache(tmp_path: Path) -> None:
    for root in (tmp_path / "new" / "cache", tmp_path / "empty"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        with Cache(root).in_use():
            pass
        assert (root / MARKER_NAME).read_text("ascii").startswith("Signature: 8a477f597d28d172789f06886806bc55")


def test_an_old_unmarked_cache_in_its_own_layout_is_adopted(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    old = root / "speech" / "ab" / f"{KEY}.npz"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"entry")
    (root / "tmp").mkdir()
    (root / ".nlmg-users.lock").write_bytes(b"")
    with Cache(root).in_use():
        pass
    assert (root / MARKER_NAME).is_file() and old.read_bytes() == b"entry"


def test_pruning_removes_only_entries_of_its_own_layout(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    cache = Cache(root, limit_mb=1)
    with cache.in_use():
        keys = [f"{i:02x}" + "0" * 62 for i in range(8)]
        for age, key in enumerate(keys):  # 8 × 256 KB = 2 MB: twice the limit
            path = cache.put_bytes("video", key, ".mp4", b"x" * (256 * 1024))
            os.utime(path, (1_000_000 + age, 1_000_000 + age))
    # A user then keeps files of their own in the cache folder, older and bigger than any entry.
    strangers = {
        root / "holiday" / "day1.mp4": b"y" * (1024 * 1024),
        root / "video" / "00" / "day2.mp4": b"z" * (512 * 1024),
        root / "video" / "mine" / ("11" + "0" * 62 + ".mp4"): b"w" * 1024,
        root / "speech" / "ab" / ("cd" + "0" * 62 + ".npz"): b"v" * 1024,  # key does not match its folder
    }
    for path, data in strangers.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (1, 1))
    with cache.in_use() as removed:
        assert removed == 5
    assert {p: p.read_bytes() for p in strangers} == strangers
    left = sorted(p.name[:2] for p in (root / "video").glob("*/*.mp4") if p.parent.name == p.name[:2])
    assert left == ["05", "06", "07"]


def test_a_cache_path_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"x")
    summary = tmp_path / "s.md"
    summary.write_text("# A Book\n\nOne sentence here.\n", "utf-8")
    result = CliRunner().invoke(
        main, ["render", str(summary), "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "file")]
    )
    assert result.exit_code == 1 and result.output.count("\n") == 1 and result.output.startswith("Error: ")


@pytest.mark.parametrize("kind", ["../x", "Speech", ""])
def test_entry_names_outside_the_layout_are_a_bug(tmp_path: Path, kind: str) -> None:
    with pytest.raises(ValueError):
        Cache(tmp_path).path(kind, KEY, ".npz")
