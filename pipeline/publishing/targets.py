"""Publish targets: copy the built site to a folder, or upload it to S3-compatible object storage.

Both targets send only what changed. A folder target compares SHA-256 digests with the files already there.
An object store is listed once; an object is unchanged when its size matches and its ETag equals the file's
MD5 (true for every single-part upload, which is how this module uploads), or, for an object whose ETag is a
multipart one, when its ``sha256`` metadata matches. The feed is sent last, so it never points at an episode
whose audio has not arrived yet.

What a browser needs from the store is set at upload: text files (pages, feed, transcripts, chapters, captions,
scripts) are stored gzip-compressed with ``Content-Encoding: gzip`` (compressed deterministically, so an
unchanged file keeps its ETag and is not sent again), and the bucket gets a CORS rule letting any origin GET and
HEAD its objects — web players on other sites fetch transcripts and chapters with ``fetch()``. ETag,
Last-Modified and 304 answers to conditional requests are the store's own. A rule already present is kept; a
store that refuses the CORS rule (no permission) is reported, not fatal.

The object store sits behind boto3 with explicit timeouts; connection, credential and bucket failures become
``NetworkError`` / ``OutputError`` with a message naming the destination.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline import atomic
from pipeline.cache import sha256_file
from pipeline.errors import InputError, NetworkError, OutputError
from pipeline.media_types import compressible, content_type
from pipeline.progress import Progress, ProgressEvent, quiet

# Files that change with every publish (feed, pages, registry, the player's script and style) get a short cache
# lifetime so apps, browsers and CDNs see new episodes and fixes quickly; media keeps a day.
SHORT_CACHE = "public, max-age=300"
LONG_CACHE = "public, max-age=86400"
_SHORT_CACHED_SUFFIXES = {".xml", ".html", ".xsl", ".css", ".js", ".m3u8", ".jspf"}
_SHORT_CACHED_NAMES = {"episodes.json"}
# The bucket CORS rule a publish adds when no rule already lets every origin GET (the ID marks it as ours).
CORS_RULE = {
    "ID": "nlmg-media-web-players",
    "AllowedOrigins": ["*"],
    "AllowedMethods": ["GET", "HEAD"],
    "AllowedHeaders": ["Range", "If-None-Match", "If-Modified-Since"],
    "ExposeHeaders": ["Content-Length", "Content-Range", "Accept-Ranges", "ETag"],
    "MaxAgeSeconds": 86400,
}


_CONNECT_TIMEOUT = 10
_READ_TIMEOUT = 60


def cache_control(relative_path: str) -> str:
    """``Cache-Control`` for a file of the site: short for the feed, pages, registry and player, a day for media."""
    path = Path(relative_path)
    short = path.suffix.lower() in _SHORT_CACHED_SUFFIXES or path.name in _SHORT_CACHED_NAMES
    return SHORT_CACHE if short else LONG_CACHE


def gzip_bytes(data: bytes) -> bytes:
    """gzip with a zero timestamp and no file name: the same content always gives the same bytes (and ETag)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


@dataclass(frozen=True)
class SiteFile:
    """A file of the built site, with what an upload needs to know about it."""

    path: Path
    relative: str  # forward slashes, relative to the site folder
    size: int
    md5: str
    sha256: str

    @property
    def content_type(self) -> str:
        return content_type(self.relative)

    @property
    def cache_control(self) -> str:
        return cache_control(self.relative)

    @property
    def compressed(self) -> bool:
        return compressible(self.relative)


@dataclass(frozen=True)
class PublishReport:
    """What a publish sent: ``uploaded`` files were new or changed, ``unchanged`` were already there."""

    destination: str
    uploaded: tuple[str, ...]
    unchanged: tuple[str, ...]
    notes: tuple[str, ...] = ()  # things the user should know (e.g. the bucket's CORS rule could not be set)

    @property
    def summary(self) -> str:
        return f"{len(self.uploaded)} uploaded, {len(self.unchanged)} unchanged → {self.destination}"


def site_files(site: Path) -> list[SiteFile]:
    """Every publishable file of ``site`` (dot-files such as locks and temp files excluded), feed last."""
    site = Path(site)
    if not site.is_dir():
        raise InputError(f"no site at {site} (run `nlmg-media publish --base-url URL` first)")
    files = []
    for path in sorted(site.rglob("*")):
        relative = path.relative_to(site).as_posix()
        if not path.is_file() or any(part.startswith(".") for part in relative.split("/")):
            continue
        md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                md5.update(block)
                sha.update(block)
        files.append(SiteFile(path, relative, path.stat().st_size, md5.hexdigest(), sha.hexdigest()))
    # Media first, then the page and registry, the feed at the very end.
    order = {"episodes.json": 1, "index.html": 1, "feed.xml": 2}
    return sorted(files, key=lambda f: (order.get(f.relative, 0), f.relative))


def publish_site(
    site: Path,
    destination: str,
    *,
    endpoint_url: str | None = None,
    session: Any = None,
    progress: Progress = quiet,
) -> PublishReport:
    """Send the site to ``destination``: a folder path, or ``s3://bucket/prefix``.

    ``session`` is a ``boto3.session.Session`` (default: a new one, with boto3's usual credential chain);
    ``endpoint_url`` points boto3 at an S3-compatible store instead of AWS.
    """
    files = site_files(site)
    if destination.startswith("s3://"):
        return _publish_s3(files, destination, endpoint_url=endpoint_url, session=session, progress=progress)
    if "://" in destination:
        raise InputError(f"unsupported publish target {destination!r}: use a folder path or s3://bucket/prefix")
    return _publish_folder(files, Path(site), Path(destination), progress)


def _publish_folder(files: list[SiteFile], site: Path, target: Path, progress: Progress) -> PublishReport:
    site_resolved, target_resolved = site.resolve(), target.resolve()
    if target_resolved == site_resolved or site_resolved in target_resolved.parents:
        raise InputError(f"--to {target} is the site folder or inside it; choose a folder elsewhere")
    uploaded: list[str] = []
    unchanged: list[str] = []
    for file in files:
        destination = target / file.relative
        if (
            destination.is_file()
            and destination.stat().st_size == file.size
            and sha256_file(destination) == file.sha256
        ):
            unchanged.append(file.relative)
            continue
        progress(
            ProgressEvent("Publishing", len(uploaded) + len(unchanged), len(files), detail=f"copy {file.relative}")
        )
        try:
            with atomic.atomic_path(destination) as tmp:
                shutil.copyfile(file.path, tmp)
        except OSError as exc:
            raise OutputError(f"cannot write {destination}: {exc.strerror}") from exc
        uploaded.append(file.relative)
    return PublishReport(str(target), tuple(uploaded), tuple(unchanged))


def parse_s3_url(destination: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` → ``("bucket", "some/prefix")``."""
    parts = urlsplit(destination)
    bucket, prefix = parts.netloc, parts.path.strip("/")
    if parts.scheme != "s3" or not bucket:
        raise InputError(f"publish target {destination!r} should look like s3://bucket or s3://bucket/prefix")
    return bucket, prefix


def _publish_s3(
    files: list[SiteFile], destination: str, *, endpoint_url: str | None, session: Any, progress: Progress
) -> PublishReport:
    bucket, prefix = parse_s3_url(destination)
    where = f"{destination}" + (f" at {endpoint_url}" if endpoint_url else "")
    client = s3_client(endpoint_url, session)
    key_of = (lambda rel: f"{prefix}/{rel}") if prefix else (lambda rel: rel)

    with s3_errors(where, bucket):
        existing: dict[str, tuple[str, int]] = {}
        paginator = client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=f"{prefix}/" if prefix else ""):
            for obj in page.get("Contents", []):
                existing[obj["Key"]] = (obj.get("ETag", "").strip('"'), int(obj.get("Size", -1)))

        notes = [note] if (note := _ensure_cors_rule(client, bucket, where)) else []
        uploaded: list[str] = []
        unchanged: list[str] = []
        for file in files:
            key = key_of(file.relative)
            body = gzip_bytes(file.path.read_bytes()) if file.compressed else None
            md5 = hashlib.md5(body, usedforsecurity=False).hexdigest() if body is not None else file.md5
            size = len(body) if body is not None else file.size
            if key in existing and _same_object(client, bucket, key, existing[key], (md5, size), file):
                unchanged.append(file.relative)
                continue
            progress(ProgressEvent("Publishing", 0, len(files), detail=f"upload {file.relative}"))
            extra = {"ContentEncoding": "gzip"} if body is not None else {}
            with open(file.path, "rb") as handle:
                client.put_object(
                    Bucket=bucket,
                    Key=key,
                    Body=body if body is not None else handle,
                    ContentType=file.content_type,
                    CacheControl=file.cache_control,
                    ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode("ascii"),
                    Metadata={"sha256": file.sha256},
                    **extra,
                )
            uploaded.append(file.relative)
    return PublishReport(destination, tuple(uploaded), tuple(unchanged), tuple(notes))


def _ensure_cors_rule(client: Any, bucket: str, where: str) -> str | None:
    """Add :data:`CORS_RULE` to the bucket unless a rule already lets every origin GET; a note if refused."""
    from botocore import exceptions as bx

    try:
        rules = client.get_bucket_cors(Bucket=bucket).get("CORSRules", [])
    except bx.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "?")
        if code != "NoSuchCORSConfiguration":
            return f"could not read the CORS rules of {where} ({code}); web players on other sites may be refused"
        rules = []
    if any("*" in r.get("AllowedOrigins", []) and "GET" in r.get("AllowedMethods", []) for r in rules):
        return None
    try:
        client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [*rules, CORS_RULE]})
    except bx.ClientError as error:
        code = error.response.get("Error", {}).get("Code", "?")
        return (
            f"could not add a CORS rule to bucket {bucket!r} ({code}): web players on other sites cannot read "
            "the transcripts and chapters until the bucket allows GET from any origin"
        )
    return None


def _same_object(
    client: Any, bucket: str, key: str, listed: tuple[str, int], stored: tuple[str, int], file: SiteFile
) -> bool:
    """Whether the listed object already holds ``file`` as it would be stored (``stored``: its MD5 and size)."""
    etag, size = listed
    md5, stored_size = stored
    if size != stored_size:
        return False
    if "-" not in etag:
        return etag == md5
    # A multipart ETag is not an MD5 of the content; fall back to the digest we store as metadata.
    head = client.head_object(Bucket=bucket, Key=key)
    encoding = "gzip" if file.compressed else ""
    return bool(head.get("Metadata", {}).get("sha256") == file.sha256 and head.get("ContentEncoding", "") == encoding)


def s3_client(endpoint_url: str | None = None, session: Any = None) -> Any:
    """A boto3 S3 client with explicit timeouts (path-style addressing for S3-compatible endpoints)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=_CONNECT_TIMEOUT,
        read_timeout=_READ_TIMEOUT,
        retries={"max_attempts": 3, "mode": "standard"},
        # S3-compatible stores (MinIO, Garage, moto) generally want path-style addressing.
        s3={"addressing_style": "path"} if endpoint_url else None,
    )
    return (session or boto3.session.Session()).client("s3", endpoint_url=endpoint_url, config=config)


@contextlib.contextmanager
def s3_errors(where: str, bucket: str) -> Iterator[None]:
    """Turn botocore failures into the project's one-line errors."""
    from botocore import exceptions as bx

    try:
        yield
    except (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError) as error:
        raise NetworkError(f"cannot reach the object store for {where}: {error}") from error
    except (bx.NoCredentialsError, bx.PartialCredentialsError) as error:
        raise OutputError(
            f"no credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
        ) from error
    except bx.ClientError as error:
        info = error.response.get("Error", {})
        code, message = info.get("Code", "?"), info.get("Message", "")
        if code in ("NoSuchBucket", "404"):
            raise OutputError(f"bucket {bucket!r} does not exist ({where})") from error
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
            raise OutputError(f"access denied to {where} ({code}): check the credentials") from error
        raise OutputError(f"object store refused {where}: {code} {message}".strip()) from error
    except bx.BotoCoreError as error:
        raise NetworkError(f"object store error for {where}: {error}") from error
