"""Curation: the curator's list of third-party videos, refreshed through yt-dlp (metadata only) into a manifest
that keeps the last-known data, and the playlists and page that are views of it.

Modules: ``curated_list`` (the TOML list), ``manifest`` (the state, ``manifest.json``), ``ytdlp`` (the network
boundary), ``refresh`` (the engine), ``playlist`` (JSPF, M3U8, HTML views), ``approve`` (a candidate joins the
list). This face re-exports what the command line and other callers use.
"""

from pipeline.curation.approve import approve_video
from pipeline.curation.curated_list import CuratedList, CuratedVideo, DiscoverySearch, load_curated_list
from pipeline.curation.manifest import (
    DEFAULT_LIST,
    DEFAULT_OUT,
    DESCRIPTION_EXCERPT,
    KINDS,
    LOCK_NAME,
    METADATA_FIELDS,
    Chapter,
    Manifest,
    VideoEntry,
    load_manifest,
)
from pipeline.curation.refresh import (
    RefreshReport,
    RefreshSettings,
    refresh,
    refresh_videos,
    strict_check,
)
from pipeline.curation.ytdlp import MetadataSource, YtDlpSource

__all__ = [
    "DEFAULT_LIST", "DEFAULT_OUT", "DESCRIPTION_EXCERPT", "KINDS", "LOCK_NAME", "METADATA_FIELDS", "Chapter",
    "CuratedList", "CuratedVideo", "DiscoverySearch", "Manifest", "MetadataSource", "RefreshReport",
    "RefreshSettings", "VideoEntry", "YtDlpSource", "approve_video", "load_curated_list", "load_manifest", "refresh",
    "refresh_videos", "strict_check",
]  # fmt: skip
