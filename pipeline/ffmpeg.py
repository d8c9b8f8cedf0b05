"""The one ffmpeg runner: finds the binary, runs argument lists (never shell strings), reports progress.

No other module spawns ffmpeg. The binary comes from an explicit path when the caller gives one, otherwise from
the ``imageio-ffmpeg`` wheel (which ships libx264, libmp3lame, libass and loudnorm), so a fresh machine needs no
system package.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import shlex
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import MediaError, ToolMissingError

ProgressCallback = Callable[[float], None]
"""Called with the number of seconds of output written so far."""

_STDERR_TAIL_LINES = 12

# Every command and its stderr go to this logger at DEBUG level (`nlmg-media --debug` shows them).
log = logging.getLogger(__name__)

# ffmpeg processes running right now (some in worker threads), so an interrupt can stop them all at once.
_RUNNING: set[subprocess.Popen[bytes]] = set()
_RUNNING_LOCK = threading.Lock()


def stop_running() -> None:
    """Kill every ffmpeg this process started that is still running (on Ctrl-C: worker threads' encodes would
    otherwise run to the end while the interrupted caller waits for them)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for proc in running:
        proc.kill()


@dataclass(frozen=True)
class FFmpeg:
    """A located ffmpeg binary; build one with ``locate``."""

    exe: str

    def run(
        self,
        args: Sequence[str | Path],
        *,
        progress: ProgressCallback | None = None,
        input_bytes: bytes | None = None,
        input_chunks: Iterable[bytes | memoryview] | None = None,
        what: str = "ffmpeg",
    ) -> str:
        """Run ffmpeg with ``args`` (without the binary) and return its stderr text.

        ``what`` names the step in the error message. With ``progress``, ffmpeg's ``-progress`` stream is
        parsed and the callback receives output seconds as they advance. ``input_chunks`` streams its chunks to
        ffmpeg's stdin (``pipe:0``) from a thread of its own, as they are made: an error raised while making them
        stops ffmpeg and is raised here.
        """
        if input_chunks is not None:
            return _run_streaming(self, args, input_chunks, progress, what)
        command = [self.exe, "-hide_banner", "-nostdin", "-y"]
        if progress is not None:
            command += ["-progress", "pipe:1", "-nostats"]
        command += [str(a) for a in args]
        with _running(command, subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL) as proc:
            if progress is None:
                _, err = proc.communicate(input_bytes)
            else:
                err = _pump_progress(proc, progress, input_bytes)
        return _outcome(proc.returncode, err, command, what)

    def pipe(self, args: Sequence[str | Path], input_bytes: bytes, *, what: str = "ffmpeg") -> bytes:
        """Run ffmpeg reading ``input_bytes`` on stdin; return what it writes to stdout (e.g. raw PCM)."""
        command = [self.exe, "-hide_banner", "-nostdin", "-loglevel", "error", *map(str, args)]
        command.remove("-nostdin")  # stdin carries the input here
        log.debug("$ %s", shlex.join(command))
        try:
            proc = subprocess.run(command, input=input_bytes, capture_output=True, check=False)
        except OSError as exc:
            raise ToolMissingError(f"cannot run ffmpeg at {self.exe}: {exc.strerror}") from exc
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-_STDERR_TAIL_LINES:])
            raise MediaError(
                f"{what} failed (ffmpeg exit {proc.returncode}): {tail[-400:]}",
                command=command,
                stderr=proc.stderr.decode("utf-8", "replace"),
            )
        return proc.stdout

    def version(self) -> str:
        out = subprocess.run(
            [self.exe, "-version"], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        ).stdout
        match = re.match(r"ffmpeg version (\S+)", out)
        return match.group(1) if match else "unknown"

    def capabilities(self, kind: str) -> str:
        """Raw ``ffmpeg -encoders`` / ``-filters`` listing (``kind`` is 'encoders' or 'filters')."""
        return subprocess.run(
            [self.exe, "-hide_banner", f"-{kind}"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        ).stdout


def _run_streaming(
    ffmpeg: FFmpeg,
    args: Sequence[str | Path],
    chunks: Iterable[bytes | memoryview],
    progress: ProgressCallback | None,
    what: str,
) -> str:
    """``FFmpeg.run`` with stdin fed from ``chunks`` by a feeder thread (the chunks are made in that thread)."""
    command = [ffmpeg.exe, "-hide_banner", "-nostdin", "-y", "-progress", "pipe:1", "-nostats", *map(str, args)]
    failure: list[BaseException] = []
    with _running(command, subprocess.PIPE) as proc:
        _widen_pipe(proc.stdin)

        def feed() -> None:
            assert proc.stdin is not None
            try:
                with contextlib.suppress(BrokenPipeError):  # ffmpeg stopped early: its own error says why
                    for chunk in chunks:
                        proc.stdin.write(chunk)
            except BaseException as exc:  # handed to the calling thread; ffmpeg is stopped, not fed a torn stream
                failure.append(exc)
                proc.kill()
            finally:
                with contextlib.suppress(BrokenPipeError, OSError):
                    proc.stdin.close()

        feeder = threading.Thread(target=feed, name="ffmpeg-feed", daemon=True)
        feeder.start()  # on Ctrl-C ffmpeg is killed and the feeder then ends on a broken pipe
        err = _pump_progress(proc, progress or (lambda seconds: None), None)
        feeder.join()
    if failure:
        raise failure[0]
    return _outcome(proc.returncode, err, command, what)


@contextlib.contextmanager
def _running(command: list[str], stdin: int) -> Iterator[subprocess.Popen[bytes]]:
    """ffmpeg started with ``command``, known to ``stop_running`` while it runs, and killed at once when the caller
    fails (Ctrl-C, a failing callback, a failing feeder) rather than when its pipe breaks."""
    log.debug("$ %s", shlex.join(command))
    try:
        proc = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        raise ToolMissingError(f"cannot run ffmpeg at {command[0]}: {exc.strerror}") from exc
    with _RUNNING_LOCK:
        _RUNNING.add(proc)
    try:
        yield proc
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(proc)


def _outcome(returncode: int | None, err: bytes, command: list[str], what: str) -> str:
    """ffmpeg's stderr text, logged; a ``MediaError`` naming ``what`` and the end of stderr if it failed."""
    stderr = err.decode("utf-8", "replace")
    log.debug("ffmpeg exit %s; stderr:\n%s", returncode, stderr.rstrip())
    if returncode != 0:
        tail = " | ".join(line.strip() for line in stderr.strip().splitlines()[-_STDERR_TAIL_LINES:])
        raise MediaError(f"{what} failed (ffmpeg exit {returncode}): {tail[-400:]}", command=command, stderr=stderr)
    return stderr


def _widen_pipe(pipe: object) -> None:
    """A 1 MB pipe where Linux allows it (64 KB by default): a raw 1080p frame is 3 MB, and fewer, larger writes
    halve the time the feeder spends blocked on ffmpeg."""
    with contextlib.suppress(ImportError, AttributeError, OSError, ValueError):
        import fcntl

        fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)  # type: ignore[attr-defined]


def _pump_progress(proc: subprocess.Popen[bytes], progress: ProgressCallback, input_bytes: bytes | None) -> bytes:

    chunks: list[bytes] = []
    assert proc.stderr is not None and proc.stdout is not None
    reader = threading.Thread(target=lambda: chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    if input_bytes is not None:
        assert proc.stdin is not None
        writer = threading.Thread(target=_feed, args=(proc.stdin, input_bytes), daemon=True)
        writer.start()
    for raw in proc.stdout:
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if key == "out_time_us" and value.isdigit():
            progress(int(value) / 1_000_000)
    proc.wait()
    reader.join()
    return b"".join(chunks)


def _feed(pipe, data: bytes) -> None:  # type: ignore[no-untyped-def]
    try:
        pipe.write(data)
    finally:
        pipe.close()


@functools.lru_cache(maxsize=8)
def locate(explicit: str | None = None) -> FFmpeg:
    """Find ffmpeg: ``explicit`` if given (must exist), else the imageio-ffmpeg wheel's binary."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ToolMissingError(f"ffmpeg not found at {explicit} (check --ffmpeg / NLMG_FFMPEG)")
        return FFmpeg(str(path))
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ToolMissingError("ffmpeg not found; install the imageio-ffmpeg package or pass --ffmpeg") from exc
    try:
        return FFmpeg(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:
        raise ToolMissingError(f"ffmpeg not found ({exc}); reinstall imageio-ffmpeg or pass --ffmpeg") from exc
