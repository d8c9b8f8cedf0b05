"""Mastering in-process and the narration in segments: our meter against ffmpeg's, the limiter's promise, and the
joined MP3 decoding exactly where the timeline says — measured on real renders with ffmpeg itself."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from support import SHORT_SUMMARY, decode_pcm, ebur128

from pipeline.narration.audio import MasteringTarget, Plan, limiter_gain, solve
from pipeline.narration.loudness import measure, true_peak

RATE = 44_100


def bursts(seconds: float = 6.0, seed: int = 3) -> np.ndarray:
    """Speech-like material: noise in syllable-sized bursts, some with a loud transient."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = (np.sin(2 * np.pi * 3.1 * t) > 0.2) * (0.05 + 0.05 * np.sin(2 * np.pi * 0.4 * t) ** 2)
    signal = rng.normal(0, 1, t.size) * envelope
    signal[rng.integers(0, t.size, 40)] = 0.95
    return signal.astype(np.float32)


def test_the_limiter_holds_every_true_peak_under_its_threshold_and_moves_in_ramps() -> None:
    signal = bursts()
    plan = Plan.of(lambda: signal, RATE)
    solution = solve([plan], MasteringTarget(), headroom=0.6)
    assert solution.limit_db is not None  # the transients need it
    mastered = plan.apply(solution)
    assert true_peak(mastered, RATE) <= solution.limit_db + solution.gain_db + 0.05
    assert abs(measure(mastered, RATE).integrated_lufs + 16) <= 0.3
    for _start, gain in limiter_gain(plan.envelope, 10 ** (solution.limit_db / 20), RATE):
        steps = np.abs(np.diff(gain.astype(np.float64)))
        assert steps.max() <= 1 / (0.002 * RATE) + 1e-6  # the steepest fall: the whole range in 2 ms


@pytest.mark.media
def test_our_meter_agrees_with_ffmpegs_on_a_real_narration(short_render, ffmpeg_exe) -> None:
    mp3 = short_render["out"] / "narration.mp3"
    integrated, peak = ebur128(ffmpeg_exe, mp3)
    ours = measure(decode_pcm(ffmpeg_exe, mp3, RATE), RATE)
    assert abs(ours.integrated_lufs - integrated) <= 0.1
    assert abs(ours.true_peak_dbtp - peak) <= 0.2
    recorded = json.loads((short_render["out"] / "render.json").read_text("utf-8"))["loudness"]
    assert abs(recorded["integrated_lufs"] - integrated) <= 0.1


@pytest.mark.media
def test_the_joined_segments_decode_exactly_where_the_timeline_puts_them(short_render, ffmpeg_exe) -> None:
    """Each segment's own stream, decoded alone, is found in the whole MP3 at a frame boundary, sample for sample;
    the streams cover the narration, which decodes to the timeline's length."""
    out, cache = short_render["out"], short_render["cache"]
    whole = decode_pcm(ffmpeg_exe, out / "narration.mp3", RATE)
    duration = json.loads((out / "timeline.json").read_text("utf-8"))["duration"]
    assert abs(len(whole) - duration * RATE) <= 0.001 * RATE
    found = []
    for stream in sorted((cache / "segment").glob("*/*.mp3")):
        alone = decode_pcm(ffmpeg_exe, stream, RATE)
        inner = alone[1152:-1152]  # away from the joins, where the neighbours' priming and padding sit
        for frame in range(0, (len(whole) - len(alone)) // 1152 + 1):
            at = frame * 1152
            if np.abs(whole[at + 1152 : at + 1152 + len(inner)] - inner).max() < 1e-4:
                found.append((at, len(alone)))
                break
    found.sort()
    assert len(found) >= 4  # the short summary's four paragraphs
    assert found[0][0] == 0
    for (at, length), (next_at, _) in zip(found, found[1:], strict=False):
        assert next_at == at + length + 1152  # one silent frame between streams, nothing lost or doubled
    assert found[-1][0] + found[-1][1] == len(whole)


@pytest.mark.media
def test_an_edit_encodes_only_the_segment_it_is_in(short_render, tmp_path, ffmpeg_exe) -> None:
    from pipeline.render import RenderJob, render

    job: RenderJob = short_render["job"]
    out, cache = tmp_path / "out", tmp_path / "cache"
    shutil.copytree(short_render["out"], out)
    shutil.copytree(short_render["cache"], cache)
    before = set((cache / "segment").glob("*/*.mp3"))
    edited = tmp_path / "summary.md"
    edited.write_text(SHORT_SUMMARY.replace("She follows anyway.", "She follows him all the same."), "utf-8")
    render(RenderJob(edited, out, cache, job.ffmpeg, job.settings))
    assert len(set((cache / "segment").glob("*/*.mp3")) - before) == 1
    integrated, peak = ebur128(ffmpeg_exe, out / "narration.mp3")
    assert abs(integrated + 16) <= 0.5 and peak <= -1.0
