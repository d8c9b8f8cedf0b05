"""The one error hierarchy: every failure a user can cause or fix is a ``NlmgError`` with an actionable message.

The CLI turns these into a single ``Error: …`` line and exit status 1. Anything else is a bug and may show a
traceback.
"""

from __future__ import annotations


class NlmgError(Exception):
    """Base of every expected failure; ``str(error)`` is the one line shown to the user."""


class InputError(NlmgError):
    """The summary, a config file or an option value is unusable."""


class ConfigError(InputError):
    """A TOML file (lexicon, curated list, project config) is malformed or has a wrong value."""


class EngineError(NlmgError):
    """A text-to-speech engine failed in a way the user can act on."""


class EngineOfflineError(EngineError):
    """An online engine could not reach its service."""


class VoiceError(EngineError):
    """A voice file is missing or is not a usable voice."""


class MediaError(NlmgError):
    """ffmpeg (or another media step) failed; carries the command's last lines of output."""

    def __init__(self, message: str, command: list[str] | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.command = command or []
        self.stderr = stderr


class ToolMissingError(NlmgError):
    """A required external binary (ffmpeg) could not be found."""


class OutputError(NlmgError):
    """An output location is not writable, or is locked by another run."""


class NetworkError(NlmgError):
    """A remote service (video site, object store) could not be reached in time."""


class StrictCheckError(NlmgError):
    """``videos refresh --strict`` found approved videos that are not ``ok``."""
