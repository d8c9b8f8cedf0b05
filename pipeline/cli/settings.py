"""Options layered over the project file: what the user typed wins, then the command's ``nlmg-media.toml`` table,
then the option's own default. One function for every command, so every table is checked the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from click.core import ParameterSource

from pipeline.config import project_table


def layered(
    ctx: click.Context, section: str, schema: Mapping[str, type], option_of: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The command's parameters with each one left at its default replaced by the ``[section]`` value, if any.

    ``schema`` maps table keys to TOML types; ``option_of`` maps a table key to its parameter name where the
    two differ. Values come back as the table holds them (strings, not paths): the command converts them.
    """
    values = dict(ctx.params)
    for key, value in project_table(section, schema).items():
        name = (option_of or {}).get(key, key)
        if ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, None) or values.get(name) is None:
            values[name] = value
    return values
