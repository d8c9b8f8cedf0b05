"""How times are written: ISO 8601 UTC stamps (``2026-11-24T22:00:00Z``) and clock durations (``1:02:05``)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """``moment`` as an ISO 8601 UTC stamp to the second, with a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime | None:
    """An ISO 8601 stamp (``Z`` or an offset; naive means UTC) as an aware datetime, or ``None`` if it is not one."""
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def clock(seconds: float | None) -> str:
    """``75.8`` → ``1:15``; ``3725`` → ``1:02:05``: whole seconds, rounded down as players show times; empty for
    an unknown length."""
    if seconds is None:
        return ""
    total = int(seconds) if seconds > 0 else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
