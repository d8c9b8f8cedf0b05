"""Configuration as data: TOML loading with located errors, and the optional project file.

The project file (``nlmg-media.toml`` in the working folder, or ``--config FILE``) has one table per command
(``[render]``, ``[publish]``, ``[videos]``); values there are defaults that command-line options override.
Nothing here reads the environment.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError

PROJECT_FILE = "nlmg-media.toml"


def load_toml(path: Path, what: str) -> dict[str, Any]:
    """Parse a TOML file; a syntax error becomes ``ConfigError`` naming the file, line and column."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{what} is a directory, not a file: {path}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from exc
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path} is not UTF-8 (invalid byte at offset {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already ends with "(at line L, column C)".
        raise ConfigError(f"malformed {what} {path}: {exc}") from exc


def project_settings(section: str, path: Path | None = None) -> dict[str, Any]:
    """The ``[section]`` table of the project file, or ``{}`` when there is no project file."""
    file = Path(path) if path else Path(PROJECT_FILE)
    if path is None and not file.is_file():
        return {}
    table = load_toml(file, "project config").get(section, {})
    if not isinstance(table, dict):
        raise ConfigError(f"project config {file}: [{section}] must be a table")
    return table
