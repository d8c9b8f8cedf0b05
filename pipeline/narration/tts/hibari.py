"""Hibari (offline, a Kokoro-82M voice distilled to 7.9 MB of int8 ONNX), the default engine, word-timed by the
voice's own phoneme durations.

The model predicts how many 25 ms frames (600 samples at 24 kHz) each phoneme lasts, rounds them and expands
the phonemes by their cumulative sum before decoding; the audio is exactly ``sum(durations) × 600`` samples. The
rounded durations are made an extra output of the graph (patched in memory: one ``ValueInfoProto`` appended to
the serialised graph, so the ``onnx`` package is not needed), which gives every phoneme its sample range.

hibari's own grapheme-to-phoneme front end (misaki's lexicon and rules, a tagger, a small network for unknown
words) reads the *speech tokens* the speech normaliser made, token by token but tagged as one sentence, so each
phoneme is known to belong to one token: a token's time is its first phoneme's start to its last phoneme's end;
punctuation and the spaces between words are pauses and belong to no token. A lexicon entry may give a token's
phonemes directly (``[hibari]`` table of the lexicon, see ``assets/lexicon.toml``).

The voice mixes shaped Gaussian noise into its spectrum; the noise generator is seeded from the content (the
voice's digest and the phoneme ids said), so one text always gives the same samples.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.cache import sha256_file
from pipeline.errors import VoiceError
from pipeline.narration.tts.engine import Synthesis, said_in_parts

_FRONT_END_TURN = threading.Lock()

DEFAULT_VOICE = "heart"
SAMPLE_RATE = 24_000
FRAME_SAMPLES = 600  # one duration unit: 25 ms at 24 kHz
# Keep this much of the silence the voice puts before a sentence (the narration's layout adds its own pauses).
_LEAD_FRAMES = 4
_PAUSE_PHONEMES = frozenset(';:,.!?—…"()“” ')
_SPEED = 1.0


@dataclass(frozen=True)
class HibariVoice:
    """A resolved voice: its model file, a display name, its digest, and whether it reads British English."""

    path: Path
    name: str
    sha256: str
    british: bool


@dataclass
class HibariEngine:
    name = "hibari"
    concurrent = True  # sentences may be said two at a time (the front end takes turns; the model runs in parallel)
    voice: HibariVoice
    session: Any  # onnxruntime.InferenceSession with the durations as an extra output
    g2p: Any  # hibari.g2p.G2P
    vocab: Mapping[str, int]
    pronunciations: Mapping[str, str] = field(default_factory=dict)  # bare token (case-folded) -> phonemes

    @classmethod
    def open(cls, voice: Path | str | None = None, pronunciations: Mapping[str, str] | None = None) -> HibariEngine:
        resolved = resolve_voice(voice)
        # The model loads on another core while the front end reads its lexicons here (onnxruntime lets go of the
        # GIL while it builds a session): about half a second less before the first sentence.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            loading = pool.submit(_session, str(resolved.path))
            g2p, vocab = _front_end(resolved.british)
            session = loading.result()
        return cls(resolved, session, g2p, vocab, dict(pronunciations or {}))

    def identity(self) -> dict[str, Any]:
        return _identity(self.voice)

    def synthesize(self, tokens: Sequence[str]) -> Synthesis:
        """Say one sentence; long ones in parts (``sentence_parts``) so memory stays bounded."""
        return said_in_parts(tokens, self._say, SAMPLE_RATE)

    def phonemes(self, tokens: Sequence[str]) -> list[str]:
        """Each token's phonemes in the voice's alphabet (trailing punctuation included, e.g. ``ˈOld,``)."""
        return [p + "".join(marks) for p, marks in self._token_phonemes(tokens)]

    def _say(self, tokens: Sequence[str]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The voice's int16 audio for ``tokens`` and each token's sample range in it."""
        with _FRONT_END_TURN:  # the grapheme-to-phoneme front end is plain Python with caches: one at a time
            ids, owner = self._ids(tokens)
        if len(ids) < 3:
            return np.zeros(0, np.int16), [(0, 0)] * len(tokens)
        outputs = self.session.run(
            None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([_SPEED], np.float32)}
        )
        lh, theta, ln, lr, phi, f0 = (o[0] for o in outputs[:6])
        durations = np.asarray(outputs[6], np.int64).reshape(-1)
        from hibari import dsp

        seed = hashlib.sha256(self.voice.sha256.encode() + np.asarray(ids, np.int64).tobytes()).digest()
        rng = np.random.default_rng(int.from_bytes(seed[:8], "little"))
        wave = dsp.synth(lh, theta, ln, lr, phi, f0, rng)
        ends = np.cumsum(durations) * FRAME_SAMPLES
        if len(durations) != len(ids) or len(wave) != int(ends[-1]):
            raise VoiceError(
                f"{self.voice.path} does not behave like a hibari voice "
                f"({len(durations)} durations for {len(ids)} phonemes, {len(wave)} samples for {int(ends[-1])})"
            )
        trim = max(0, int(durations[0]) - _LEAD_FRAMES) * FRAME_SAMPLES  # the leading pad's silence
        starts = ends - durations * FRAME_SAMPLES - trim
        ends = ends - trim
        samples = (np.clip(wave[trim:], -1.0, 1.0) * 32767.0).astype(np.int16)
        return samples, _token_spans(owner, starts, ends, len(tokens))

    def _ids(self, tokens: Sequence[str]) -> tuple[list[int], list[int]]:
        """Phoneme ids with the pads at both ends, and for each id the token it belongs to (-1: a pause)."""
        ids, owner = [0], [-1]
        for index, (word, marks) in enumerate(self._token_phonemes(tokens)):
            for ch in word:
                if ch in self.vocab:
                    ids.append(self.vocab[ch])
                    owner.append(-1 if ch in _PAUSE_PHONEMES else index)
            for ch in "".join(marks) + (" " if index < len(tokens) - 1 else ""):
                if ch in self.vocab:
                    ids.append(self.vocab[ch])
                    owner.append(-1)
        ids.append(0)
        owner.append(-1)
        return ids, owner

    def _token_phonemes(self, tokens: Sequence[str]) -> list[tuple[str, list[str]]]:
        """(spoken phonemes, punctuation phonemes) per token. The tokens are tagged as one sentence (the lexicon
        reads "read", "live", "the" by context) and phonemised by hibari's G2P; a token whose bare form has a
        lexicon pronunciation takes it as written."""
        from hibari.g2p.token import Tok

        pairs: list[tuple[str, str]] = []
        owners: list[int] = []
        for index, token in enumerate(tokens):
            pieces = self.g2p.tokenizer.split(token) or [token]
            for k, piece in enumerate(pieces):
                last = k == len(pieces) - 1
                pairs.append((piece, " " if last and index < len(tokens) - 1 else ""))
                owners.append(index)
        if not pairs:
            return []
        tags = self.g2p.tagger([text for text, _ in pairs])
        toks = [Tok(text, tag, space) for (text, space), tag in zip(pairs, tags, strict=True)]
        for index, token in enumerate(tokens):  # lexicon phonemes: the token's word pieces say them
            fixed = self._pronunciation(token)
            if fixed is None:
                continue
            mine = [t for t, o in zip(toks, owners, strict=True) if o == index]
            words = [t for t in mine if any(ch.isalnum() for ch in t.text)]
            for k, t in enumerate(words):
                t.phonemes, t.rating = (fixed if k == 0 else ""), 5
        said = self.g2p.phonemize_tokens(toks)
        result: list[tuple[str, list[str]]] = [("", []) for _ in tokens]
        index = 0
        for tok in said:  # merged tokens never cross a space, and every token but the last ends in one
            if index >= len(tokens):
                break
            phonemes = tok.phonemes or ""
            word, marks = result[index]
            if phonemes and all(ch in _PAUSE_PHONEMES for ch in phonemes):
                marks.append(phonemes)
            else:
                word += phonemes
            result[index] = (word, marks)
            if tok.whitespace:
                index += 1
        if index != len(tokens) - 1 and len(tokens) > 1:  # not one group per token: say each on its own
            return [self._token_phonemes([token])[0] for token in tokens]
        return result

    def _pronunciation(self, token: str) -> str | None:
        return pronunciation(token, self.pronunciations) if self.pronunciations else None


def pronunciation(token: str, table: Mapping[str, str]) -> str | None:
    """The lexicon's phonemes for a speech token (matched without its final mark, case-folded; a possessive adds
    its ending: s after a voiceless consonant, ɪz after a sibilant, else z), or None."""
    bare = token.strip(",.;:!?").replace("’", "'").casefold()
    found = table.get(bare)
    if found is None and bare.endswith("'s") and (stem := table.get(bare[:-2])) is not None:
        found = stem + ("ɪz" if stem[-1:] in "szʃʒʧʤ" else "s" if stem[-1:] in "ptkfθ" else "z")
    return found


def _token_spans(owner: list[int], starts: np.ndarray, ends: np.ndarray, count: int) -> list[tuple[int, int]]:
    """Each token's sample range: first phoneme's start to last phoneme's end; a silent token sits, with no
    length, where the speech before it ended."""
    first: list[int | None] = [None] * count
    last: list[int | None] = [None] * count
    for k, index in enumerate(owner):
        if index >= 0:
            if first[index] is None:
                first[index] = k
            last[index] = k
    spans: list[tuple[int, int]] = []
    previous_end = max(0, int(starts[1])) if len(starts) > 1 else 0
    for index in range(count):
        a, b = first[index], last[index]
        if a is None or b is None:
            spans.append((previous_end, previous_end))
            continue
        span = (max(0, int(starts[a])), int(ends[b]))
        spans.append(span)
        previous_end = span[1]
    return spans


# --- voices -------------------------------------------------------------------------------------------------


def voice_names() -> list[str]:
    """The voices hibari knows by name (only ``heart`` ships in the package)."""
    from hibari.voices import VOICES

    return list(VOICES)


def voice_home(name: str) -> Path:
    """Where a named voice that is not bundled must be put (hibari's own cache folder)."""
    from hibari.voices import VOICES, cache_dir

    return Path(cache_dir()) / VOICES[name]["file"]


def resolve_voice(voice: Path | str | None) -> HibariVoice:
    """A voice name (``heart``, or another hibari voice already on disk) or a path to a hibari ``.onnx`` file.
    Nothing is ever downloaded: a named voice that is not on this machine is a ``VoiceError`` saying where to
    put the file."""
    from hibari.voices import ASSETS, BASE_URL, VOICES

    text = str(voice) if voice is not None else DEFAULT_VOICE
    path = Path(text)
    if text in VOICES and not path.is_file():
        entry = VOICES[text]
        if entry.get("bundled"):
            path = Path(ASSETS) / entry["file"]
            if not path.is_file():
                raise VoiceError(f"the bundled hibari voice is missing ({path}); reinstall hibari-tts")
        else:
            path = voice_home(text)
            if not path.is_file():
                raise VoiceError(
                    f"hibari voice {text!r} is not on this machine: download {BASE_URL}{entry['file']} "
                    f"and put it at {path} (or pass --voice path/to/voice.onnx)"
                )
        return HibariVoice(path, text, _file_digest(str(path)), bool(entry.get("british")))
    if not path.is_file():
        if path.suffix != ".onnx" and os.sep not in text:
            raise VoiceError(
                f"unknown hibari voice {text!r}; choose one of {', '.join(VOICES)} or a path to a hibari .onnx file"
            )
        raise VoiceError(f"voice not found: {path}")
    digest = _file_digest(str(path))
    known = next((name for name, e in VOICES.items() if e.get("sha256") == digest), None)
    british = bool(VOICES[known].get("british")) if known else False
    return HibariVoice(path, known or path.name.removesuffix(".onnx"), digest, british)


def identity(voice: Path | str | None) -> dict[str, Any]:
    return _identity(resolve_voice(voice))


def _identity(voice: HibariVoice) -> dict[str, Any]:
    from importlib.metadata import version

    found: dict[str, Any] = {
        "engine": "hibari",
        "voice": voice.sha256,
        "british": voice.british,
        "hibari": version("hibari-tts"),
        "speed": _SPEED,
    }
    return found


@functools.lru_cache(maxsize=2)
def _front_end(british: bool) -> tuple[Any, dict[str, int]]:
    import json

    from hibari.g2p import G2P
    from hibari.voices import ASSETS

    with open(os.path.join(ASSETS, "vocab.json"), encoding="utf-8") as handle:
        vocab = json.load(handle)
    return G2P(british=british), vocab


@functools.lru_cache(maxsize=2)
def _session(model: str) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.enable_cpu_mem_arena = False  # an arena keeps its high-water mark: ~90 MB a render never needs again
    try:
        data = with_duration_output(Path(model).read_bytes())
        return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except (ValueError, IndexError) as exc:
        raise VoiceError(f"{model} is not a usable hibari voice ({exc})") from exc
    except Exception as exc:  # onnxruntime raises its own types for a file that is not a model
        raise VoiceError(f"{model} is not a usable hibari voice ({type(exc).__name__}: {str(exc)[:120]})") from exc


# --- the graph patch: durations as an extra output, on the serialised protobuf ---------------------------------
# ModelProto.graph is field 7; GraphProto.node 1, .output 12; NodeProto.input 1, .op_type 4;
# ValueInfoProto.name 1, .type 2; TypeProto.tensor_type 1; TypeProto.Tensor.elem_type 1 (7 = int64).


def with_duration_output(model: bytes) -> bytes:
    """The model with the rounded per-phoneme durations (the input of its one ``CumSum``) as a 7th output."""
    graph_field = next((f for f in _fields(model, 0, len(model)) if f[0] == 7 and f[1] == 2), None)
    if graph_field is None:
        raise ValueError("no graph in the model")
    _, _, head, start, end = graph_field
    name = None
    for number, wire, _h, a, b in _fields(model, start, end):
        if number == 1 and wire == 2:  # a node
            fields = list(_fields(model, a, b))
            if any(n == 4 and model[x:y] == b"CumSum" for n, _w, _hh, x, y in fields):
                name = next(model[x:y] for n, _w, _hh, x, y in fields if n == 1)
                break
    if name is None:
        raise ValueError("no duration expansion (CumSum) in the graph")
    type_proto = _message(1, _varint_field(1, 7))  # tensor_type { elem_type: INT64 }
    value_info = _message(1, name) + _message(2, type_proto)
    graph = model[start:end] + _message(12, value_info)
    return model[:head] + _message(7, graph) + model[end:]


def _fields(data: bytes, start: int, end: int) -> Any:
    """(field number, wire type, offset of the tag, value start, value end) of each field in data[start:end]."""
    position = start
    while position < end:
        head = position
        key, position = _read_varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, after = _read_varint(data, position)
            yield number, wire, head, position, after
            position = after
        elif wire == 2:
            length, position = _read_varint(data, position)
            yield number, wire, head, position, position + length
            position += length
        elif wire == 1:
            yield number, wire, head, position, position + 8
            position += 8
        elif wire == 5:
            yield number, wire, head, position, position + 4
            position += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _message(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


@functools.lru_cache(maxsize=8)
def _file_digest(path: str) -> str:
    return sha256_file(Path(path))
