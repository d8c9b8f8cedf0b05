"""The hibari engine (the default voice): phonemes mapped to speech tokens, word timings from the voice's own
phoneme durations checked against its audio, reproducible renders, voices that are not on disk, the lexicon's
phoneme entries, captions against speech onsets found by silence detection, and intelligibility measured by an
independent recogniser (PocketSphinx)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from support import decode_pcm

from pipeline.cli import main
from pipeline.narration.lexicon import Lexicon
from pipeline.narration.speech import speech_words
from pipeline.narration.synthesis import sentence_tokens
from pipeline.narration.tts.hibari import FRAME_SAMPLES, SAMPLE_RATE, HibariEngine, with_duration_output

# Numbers, abbreviations, hyphenation, apostrophes and names in one sentence.
TRICKY = "In 1999, Dr. O'Neill's well-known U.K. firm paid $20 to Ishiguro's 3rd cousin — Chrissie."


@pytest.fixture(scope="module")
def engine() -> HibariEngine:
    return HibariEngine.open()


def test_every_spoken_token_gets_its_own_phonemes(engine):
    words = tuple(TRICKY.split())
    tokens, ranges = sentence_tokens(words, Lexicon.empty())
    phonemes = engine.phonemes(tokens)
    assert len(phonemes) == len(tokens)
    by_token = dict(zip(tokens, phonemes, strict=True))
    assert all(re.search(r"[^\s,.;:!?—…]", p) for p in phonemes), by_token  # every token says something
    # Several spoken tokens for one written word: "1999," -> "nineteen ninety nine,", "$20" -> "twenty dollars".
    assert [tokens[i] for i in ranges[1]] == ["nineteen", "ninety", "nine,"]
    assert by_token["nineteen"].startswith("n") and by_token["nine,"].endswith(",")
    assert [tokens[i] for i in ranges[words.index("$20")]] == ["twenty", "dollars"]
    assert by_token["Doctor"].startswith("d")  # "Dr." said as a word
    assert by_token["O'Neill's"].endswith("z")  # one token, possessive kept
    assert [tokens[i] for i in ranges[words.index("U.K.")]] == ["U", "K"]
    assert by_token["U"] == "jˈu" and by_token["K"] == "kˈA"  # letters said as letters
    assert "-" not in by_token["well-known"] and "ˈ" in by_token["well-known"]  # hyphenated: one token, one word


def test_lexicon_phonemes_are_said_as_written(engine, tmp_path):
    lexicon_file = tmp_path / "lexicon.toml"
    lexicon_file.write_text(
        '[words]\nHailsham = "Hailshum"\n\n[hibari]\nHailsham = "hˈAlʃəm"\nRuth = "ɹˈuθ"\n', "utf-8"
    )
    lexicon = Lexicon.load(lexicon_file)
    fixed = HibariEngine.open(pronunciations=lexicon.pronunciations())
    tokens, _ = sentence_tokens(("Ruth's", "Hailsham,", "Hailsham's."), lexicon)
    assert tokens == ["Ruth's", "Hailshum,", "Hailshum's."]  # the respelling still reaches piper and gTTS
    assert fixed.phonemes(tokens) == ["ɹˈuθs", "hˈAlʃəm,", "hˈAlʃəmz."]


@pytest.mark.media
def test_word_times_come_from_the_audio_itself(engine):
    """Durations are in whole 600-sample frames; every token's span is inside the audio, in order, voiced, and
    the gaps between tokens are pauses only where the text pauses."""
    words = tuple(TRICKY.split())
    tokens, _ = sentence_tokens(words, Lexicon.empty())
    synthesis = engine.synthesize(tokens)
    assert synthesis.sample_rate == SAMPLE_RATE == 24_000
    audio = synthesis.samples.astype(np.float32) / 32768
    times = synthesis.token_times
    assert len(times) == len(tokens)
    previous_end = 0.0
    for token, (start, end) in zip(tokens, times, strict=True):
        assert previous_end - 1e-9 <= start < end <= synthesis.duration + 1e-9, token
        assert round(start * SAMPLE_RATE) % FRAME_SAMPLES == 0  # the model's own frame grid (the lead trim too)
        window = audio[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        assert 20 * np.log10(np.sqrt(np.mean(window**2)) + 1e-9) > -40, f"{token!r} is silent"
        previous_end = end
    for i in range(len(tokens) - 1):
        gap = times[i + 1][0] - times[i][1]
        pause = tokens[i][-1] in ",.;:!?"
        assert gap <= (0.8 if pause else 0.11), (tokens[i], gap)
    # After the last word there is (nearly) nothing left to say.
    assert synthesis.duration - times[-1][1] < 0.3


@pytest.mark.media
def test_long_sentences_stay_in_parts_and_keep_their_times(engine):
    tokens = [f"word{i}," if i % 12 == 11 else "word" for i in range(80)]
    synthesis = engine.synthesize(tokens)
    ends = [end for _, end in synthesis.token_times]
    assert ends == sorted(ends) and ends[-1] <= synthesis.duration
    assert len(synthesis.token_times) == 80


@pytest.mark.media
def test_the_same_text_gives_the_same_samples_and_another_text_other_noise(engine):
    a = engine.synthesize(["Hello", "there."])
    b = HibariEngine.open().synthesize(["Hello", "there."])
    assert np.array_equal(a.samples, b.samples)
    c = engine.synthesize(["Hello", "there!"])
    assert not np.array_equal(a.samples[: len(c.samples)], c.samples[: len(a.samples)])


@pytest.mark.media
def test_two_renders_are_byte_identical(short_summary, tmp_path):
    from pipeline.ffmpeg import locate
    from pipeline.render import RenderJob, RenderSettings, render

    summary = tmp_path / "one.md"
    summary.write_text("# Same\n\nKathy meets Tommy in 1999. They talk.\n", "utf-8")
    made = []
    for name in ("a", "b"):  # separate caches: both synthesise and master from scratch
        job = RenderJob(summary, tmp_path / name, tmp_path / f"cache-{name}", locate(), RenderSettings(video=False))
        assert render(job).synthesized == 2
        made.append(tmp_path / name)
    for file in ("narration.mp3", "timeline.json", "captions.srt"):
        assert (made[0] / file).read_bytes() == (made[1] / file).read_bytes(), file


def test_a_named_voice_that_is_not_on_disk_fails_at_once_offline(short_summary, tmp_path, monkeypatch):
    monkeypatch.setenv("HIBARI_HOME", str(tmp_path / "voices"))  # hibari's own voice folder: empty here
    result = CliRunner().invoke(
        main, ["render", str(short_summary), "--voice", "emma", "--out", str(tmp_path / "o"), "--no-video"]
    )
    assert result.exit_code == 1
    expected = (
        "Error: hibari voice 'emma' is not on this machine: download "
        "https://huggingface.co/maureesewilliams/hibari/resolve/main/voices/bf_emma.int8.onnx "
        f"and put it at {tmp_path / 'voices' / 'bf_emma.int8.onnx'} (or pass --voice path/to/voice.onnx)\n"
    )
    assert result.output == expected
    assert not (tmp_path / "o" / "narration.mp3").exists()


@pytest.mark.parametrize(
    ("voice", "message"),
    [
        ("nobody", "Error: unknown hibari voice 'nobody'; choose one of heart, emma, fenrir, fable, kore or a path"),
        ("missing.onnx", "Error: voice not found: missing.onnx"),
    ],
)
def test_unknown_voices_are_one_line_errors(short_summary, tmp_path, voice, message):
    result = CliRunner().invoke(
        main, ["render", str(short_summary), "--voice", voice, "--out", str(tmp_path / "o"), "--no-video"]
    )
    assert result.exit_code == 1 and result.output.startswith(message) and result.output.count("\n") == 1


def test_a_file_that_is_not_a_hibari_voice(short_summary, tmp_path):
    fake = tmp_path / "voice.onnx"
    fake.write_bytes(b"not a model")
    result = CliRunner().invoke(
        main,
        ["render", str(short_summary), "--voice", str(fake), "--out", str(tmp_path / "o"),
         "--cache", str(tmp_path / "c"), "--no-video"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {fake} is not a usable hibari voice") and result.output.count("\n") == 1


def test_the_duration_output_is_added_without_the_onnx_package():
    from hibari.voices import ASSETS

    model = (Path(ASSETS) / "hibari.onnx").read_bytes()
    patched = with_duration_output(model)
    assert len(patched) > len(model) and b"CumSum" in patched
    with pytest.raises(ValueError, match="no graph"):
        with_duration_output(b"\x08\x07")  # ir_version only


def test_doctor_lists_engines_and_voices(tmp_path):
    result = CliRunner().invoke(main, ["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(result.output)}
    assert checks["hibari voice"]["ok"] and "heart" in checks["hibari voice"]["detail"]
    assert checks["piper voice"]["ok"] and "en_US-joe-medium" in checks["piper voice"]["detail"]


# --- measured from outside: silence detection and a recogniser on the real render --------------------------


def speech_onsets(ffmpeg_exe: str, mp3: Path) -> list[float]:
    """Where speech resumes after each silence, by ffmpeg's silencedetect on the MP3 itself."""
    err = subprocess.run(
        [ffmpeg_exe, "-hide_banner", "-nostdin", "-i", str(mp3), "-af", "silencedetect=noise=-45dB:d=0.2",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    return [float(x) for x in re.findall(r"silence_end: (-?[\d.]+)", err)]


def test_sentence_cues_start_at_speech_onsets(short_render, ffmpeg_exe):
    from test_render import parse_srt

    onsets = speech_onsets(ffmpeg_exe, short_render["out"] / "narration.mp3")
    cues = parse_srt((short_render["out"] / "captions.srt").read_text("utf-8"))
    openers = [c for i, c in enumerate(cues) if i == 0 or cues[i - 1][2][-1].rstrip('”"’').endswith((".", "?", "!"))]
    assert len(openers) >= 4 and len(onsets) >= len(openers)
    for start, _, lines in openers:
        nearest = min(onsets, key=lambda t: abs(t - start))
        assert abs(nearest - start) <= 0.25, (lines, start, nearest)


def test_the_render_is_intelligible_and_the_meter_is_not_fooled(short_render, short_summary, ffmpeg_exe):
    """PocketSphinx transcribes the real MP3 sentence by sentence; the word error rate against the spoken words
    must be low. The same meter must fail silence, white noise, and the render scored against other words."""
    from pipeline.ffmpeg import locate
    from pipeline.narration.intelligibility import Recogniser, narration_score, score_sentences, words_of

    recogniser = Recogniser()
    score = narration_score(locate(), short_render["out"], short_summary, recogniser)
    assert score.words >= 40 and score.wer <= 0.3, score

    rng = np.random.default_rng(0)
    reference = words_of("she rents a room above the bakery")
    noise = (rng.standard_normal(16_000) * 3000).astype(np.int16)
    silence = np.zeros(16_000, np.int16)
    for audio in (noise, silence):
        assert score_sentences(recogniser, audio, [(0.2, 0.8, reference)]).wer >= 0.8
    timeline = json.loads((short_render["out"] / "timeline.json").read_text("utf-8"))
    first = [w for w in timeline["words"] if w["sentence"] == 0]
    from pipeline.narration.intelligibility import decode

    pcm = decode(locate(), short_render["out"] / "narration.mp3")
    wrong = score_sentences(recogniser, pcm, [(first[0]["start"], first[-1]["end"], reference)])
    assert wrong.wer >= 0.8, wrong


def test_speech_words_are_what_the_timeline_counts(short_render, short_summary):
    """Every written word is one timeline word with a real span, even when it is said as several tokens."""
    from pipeline.narration.document import load_summary

    document = load_summary(short_summary)
    timeline = json.loads((short_render["out"] / "timeline.json").read_text("utf-8"))
    assert [w["text"] for w in timeline["words"]] == list(document.words)
    spoken: dict[str, str] = {}
    for sentence in document.sentences:
        spoken.update(zip(sentence.words, speech_words(sentence.words, Lexicon.empty()), strict=True))
    for word in timeline["words"]:
        if spoken.get(word["text"]):
            assert word["end"] > word["start"], word
    assert timeline["words"][-1]["end"] <= timeline["duration"]


@pytest.mark.media
def test_the_24khz_voice_is_resampled_without_images(tmp_path, ffmpeg_exe):
    """A 9 kHz tone at the voice's 24 kHz, mastered to 44.1 kHz: no image at 24 - 9 = 15 kHz, no alias anywhere."""
    import wave

    from pipeline.ffmpeg import locate
    from pipeline.narration.audio import master

    t = np.arange(SAMPLE_RATE * 4) / SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 9000 * t) * np.minimum(1, np.minimum(t, t[-1] - t) * 20)
    wav = tmp_path / "tone.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes((tone * 32767).astype("<i2").tobytes())
    master(locate(ffmpeg_exe), wav, tmp_path / "tone.mp3")
    pcm = decode_pcm(ffmpeg_exe, tmp_path / "tone.mp3", 44_100)[44_100 : 3 * 44_100]
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    freqs = np.fft.rfftfreq(len(pcm), 1 / 44_100)
    tone_level = spectrum[np.abs(freqs - 9000) < 50].max()
    elsewhere = spectrum[(np.abs(freqs - 9000) > 500) & (freqs > 100)].max()
    assert 20 * np.log10(elsewhere / tone_level) < -50


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.from_regex(r"[A-Za-zÀ-ÿ]{1,8}(['’-][A-Za-z]{1,6})?[,.;:!?]?", fullmatch=True), min_size=1, max_size=12)
)
def test_any_speech_tokens_get_one_phoneme_group_each(tokens: list[str]) -> None:
    engine = HibariEngine.open()  # cached: the voice and the front end load once per process
    phonemes = engine.phonemes(tokens)
    assert len(phonemes) == len(tokens)
    ids, owner = engine._ids(tokens)
    assert len(ids) == len(owner) and set(owner) <= {-1, *range(len(tokens))}
    spoken = [o for o in owner if o >= 0]
    assert spoken == sorted(spoken)  # each token's phonemes in order, never interleaved


def test_scoring_conventions_do_not_charge_the_recogniser_spelling() -> None:
    """Contractions, ok/okay and compounds written together or apart are one reading; anything else still counts."""
    from pipeline.narration.intelligibility import comparable, edit_distance

    def errors(reference: str, heard: str) -> int:
        said = comparable(reference.split(), comparable(heard.split(), ()))
        return edit_distance(said, comparable(heard.split(), said))

    assert errors("they are okay with secondhand things", "they're ok with second hand things") == 0
    assert errors("she could not go to the second hand shop", "she couldn't go to the secondhand shop") == 0
    assert errors("that is it", "that it") == 1
    assert errors("kathy remembers", "happy remembers") == 1
