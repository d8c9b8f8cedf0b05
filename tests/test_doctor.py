"""``nlmg-media doctor``: real checks against the installed ffmpeg, voice and fonts."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pipeline.cli import main


def test_doctor_passes_on_a_complete_install(tmp_path):
    result = CliRunner().invoke(main, ["doctor", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.output.splitlines() if not line.startswith(" ")] == ["ok"] * 5


def test_doctor_json_reports_a_missing_ffmpeg_with_a_fix(tmp_path):
    result = CliRunner().invoke(main, ["--ffmpeg", str(tmp_path / "nope"), "doctor", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 1
    checks = {c["name"]: c for c in json.loads(result.output)}
    assert checks["ffmpeg"]["ok"] is False and "not found" in checks["ffmpeg"]["detail"] and checks["ffmpeg"]["fix"]
    assert checks["hibari voice"]["ok"] and checks["piper voice"]["ok"] and checks["fonts"]["ok"]


def test_doctor_network_check_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    import socket

    def refuse(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)  # the test machine may or may not be offline
    result = CliRunner().invoke(main, ["doctor", "--network", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0
    network = [c for c in json.loads(result.output) if c["name"].startswith("network")]
    assert len(network) == 2 and all(not c["ok"] and not c["required"] for c in network)
