"""Render folders in S3-compatible object storage, whole or not at all from a reader's point of view.

Object stores have no rename, so a folder cannot be swapped in atomically. Instead each upload goes to a
fresh version prefix and a small pointer is written last::

    <prefix>/<slug>/v/<version>/narration.mp3, captions.vtt, …, render.json   (every file of the render)
    <prefix>/<slug>/current.json                                             (written after all of them)

A reader trusts only ``current.json`` and fetches the files under the version it names: it sees the previous
complete render until the pointer moves, then the new complete one, never half a book. A PUT of one object is
atomic in S3, so the pointer itself is never half-written. Versions the pointer left behind are deleted once
they are older than ``KEEP_OLD_SECONDS`` (a reader that read the old pointer a moment ago can still finish).

The upload itself is ``publishing.targets.publish_site`` (content types, checksums, timeouts, one-line errors;
text files stored gzip-compressed); this module adds the versioning, the pointer and reading back.
"""

from __future__ import annotations

import gzip
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import atomic
from pipeline.publishing import targets

POINTER_NAME = "current.json"
VERSIONS = "v"
KEEP_OLD_SECONDS = 3600


def is_remote(destination: str) -> bool:
    return destination.startswith("s3://")


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def render_url(destination: str, slug: str) -> str:
    """Where a book's pointer lives, as an ``s3://`` URL."""
    bucket, prefix = targets.parse_s3_url(destination)
    return f"s3://{bucket}/{_join(prefix, slug, POINTER_NAME)}"


def upload_render(
    folder: Path,
    destination: str,
    slug: str,
    job_id: str,
    duration: float | None,
    *,
    endpoint_url: str | None = None,
    session: Any = None,
    keep_old_seconds: float = KEEP_OLD_SECONDS,
) -> str:
    """Upload a finished render folder under a new version, then point ``current.json`` at it. Returns its URL."""
    bucket, prefix = targets.parse_s3_url(destination)
    version = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(4)}"
    version_prefix = _join(prefix, slug, VERSIONS, version)
    report = targets.publish_site(folder, f"s3://{bucket}/{version_prefix}", endpoint_url=endpoint_url, session=session)
    files = sorted(report.uploaded + report.unchanged)
    pointer = {
        "slug": slug,
        "version": version,
        "prefix": version_prefix + "/",
        "files": files,
        "job_id": job_id,
        "duration": duration,
        "uploaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    client = targets.s3_client(endpoint_url, session)
    where = render_url(destination, slug)
    with targets.s3_errors(where, bucket):
        client.put_object(
            Bucket=bucket,
            Key=_join(prefix, slug, POINTER_NAME),
            Body=json.dumps(pointer, indent=2).encode("utf-8"),
            ContentType="application/json",
            CacheControl="no-cache",
        )
        _delete_old_versions(client, bucket, _join(prefix, slug, VERSIONS), version, keep_old_seconds)
    return where


def current_render(
    destination: str, slug: str, *, endpoint_url: str | None = None, session: Any = None
) -> dict[str, Any] | None:
    """The pointer of a book's complete render, or None when there is none (yet)."""
    bucket, prefix = targets.parse_s3_url(destination)
    client = targets.s3_client(endpoint_url, session)
    with targets.s3_errors(render_url(destination, slug), bucket):
        return _read_pointer(client, bucket, _join(prefix, slug, POINTER_NAME))


@dataclass(frozen=True)
class FetchedRender:
    slug: str
    folder: Path
    version: str


def fetch_renders(
    destination: str, local_root: Path, *, endpoint_url: str | None = None, session: Any = None
) -> list[FetchedRender]:
    """Copy every book's current complete render to ``local_root/<slug>/`` (for publishing). Sorted by slug."""
    bucket, prefix = targets.parse_s3_url(destination)
    client = targets.s3_client(endpoint_url, session)
    fetched = []
    with targets.s3_errors(destination, bucket):
        paginator = client.get_paginator("list_objects_v2")
        slugs = []
        for page in paginator.paginate(Bucket=bucket, Prefix=_join(prefix) + "/" if prefix else "", Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                slugs.append(common["Prefix"].rstrip("/").rsplit("/", 1)[-1])
        for slug in sorted(slugs):
            pointer = _read_pointer(client, bucket, _join(prefix, slug, POINTER_NAME))
            if pointer is None:
                continue  # a first upload still under way: nothing complete to read yet
            folder = atomic.make_folder(local_root / slug, "render folder")
            for name in pointer["files"]:
                body = _object_bytes(client, bucket, pointer["prefix"] + name)
                target = folder / name
                target.parent.mkdir(parents=True, exist_ok=True)
                if not (target.is_file() and target.read_bytes() == body):
                    atomic.write_bytes(target, body)
            fetched.append(FetchedRender(slug, folder, pointer["version"]))
    return fetched


def _object_bytes(client: Any, bucket: str, key: str) -> bytes:
    """An object's content as uploaded (text files are stored gzip-compressed, see ``publishing.targets``)."""
    response = client.get_object(Bucket=bucket, Key=key)
    body = bytes(response["Body"].read())
    return gzip.decompress(body) if response.get("ContentEncoding") == "gzip" else body


def _read_pointer(client: Any, bucket: str, key: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        body = _object_bytes(client, bucket, key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        raise
    try:
        pointer = json.loads(body)
    except ValueError:
        return None
    return pointer if isinstance(pointer, dict) and isinstance(pointer.get("files"), list) else None


def _delete_old_versions(client: Any, bucket: str, versions_prefix: str, keep: str, keep_old_seconds: float) -> None:
    newest: dict[str, float] = {}
    keys: dict[str, list[str]] = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=versions_prefix + "/"):
        for obj in page.get("Contents", []):
            version = obj["Key"][len(versions_prefix) + 1 :].split("/", 1)[0]
            keys.setdefault(version, []).append(obj["Key"])
            newest[version] = max(newest.get(version, 0.0), obj["LastModified"].timestamp())
    now = time.time()
    for version, names in keys.items():
        if version == keep or now - newest[version] < keep_old_seconds:
            continue
        for start in range(0, len(names), 1000):
            batch = [{"Key": key} for key in names[start : start + 1000]]
            client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
