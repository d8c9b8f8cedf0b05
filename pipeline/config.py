"""Configuration as data: TOML loading with located errors, and the optional project file.

The project file (``nlmg-media.toml`` in the working folder) has one table per command (``[render]``,
``[publish]``, ``[videos]``). Settings are layered one way everywhere: defaults in code, then the command's table
(checked against its schema by ``project_table``: an unknown key or a wrong type is an error in every table), then
options given on the command line. Nothing here reads the environment.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

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


KIND_NAMES = {
    str: "a string",
    int: "a whole number",
    float: "a number",
    bool: "true or false",
    list: "a list of strings",
}


def project_table(section: str, schema: Mapping[str, type], path: Path | None = None) -> dict[str, Any]:
    """The ``[section]`` table of the project file, each key checked against ``schema`` (key → TOML type).

    An unknown key, a value of the wrong type, a negative whole number or a list of non-strings is a
    ``ConfigError`` naming the table and key. Whole numbers are accepted where a number is expected.
    """
    checked: dict[str, Any] = {}
    for key, value in project_settings(section, path).items():
        kind = schema.get(key)
        if kind is None:
            raise ConfigError(f"project config [{section}] has an unknown key {key!r}")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        good = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if good and kind is int:
            good = value >= 0
        if good and kind is list:
            good = all(isinstance(item, str) for item in value)
        if not good:
            raise ConfigError(f"project config [{section}] {key} must be {KIND_NAMES[kind]}, got {value!r}")
        checked[key] = value
    return checked
