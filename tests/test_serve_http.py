"""Issue 14: what web players need from ``serve`` and from an S3 upload — CORS on transcripts and chapters,
validators (ETag, Last-Modified) with 304 answers, gzip for text — measured over real HTTP on loopback."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from support import request

from pipeline.publishing import targets

CHAPTERS = "/episodes/never-let-me-go/chapters.json"
TRANSCRIPT = "/episodes/never-let-me-go/timeline.json"  # large enough to be worth gzip
MP3 = "/episodes/never-let-me-go/never-let-me-go.mp3"


@pytest.mark.parametrize("path", [CHAPTERS, TRANSCRIPT, "/episodes/never-let-me-go/captions.vtt", "/feed.xml", MP3])
def test_any_origin_may_read_the_episode_files(address: tuple[str, int], path: str) -> None:
    response, _ = request(address, "GET", path, {"Origin": "https://player.example"})
    assert response.status == 200
    assert response.getheader("Access-Control-Allow-Origin") == "*"
    preflight, body = request(address, "OPTIONS", path, {"Origin": "https://player.example",
                                                         "Access-Control-Request-Method": "GET",
                                                         "Access-Control-Request-Headers": "range"})  # fmt: skip
    assert (preflight.status, body) == (204, b"")
    assert preflight.getheader("Access-Control-Allow-Origin") == "*"
    assert "Range" in preflight.getheader("Access-Control-Allow-Headers")


def test_text_is_gzipped_for_clients_that_ask(address: tuple[str, int], built_site: Path) -> None:
    plain, plain_body = request(address, "GET", TRANSCRIPT)
    zipped, zipped_body = request(address, "GET", TRANSCRIPT, {"Accept-Encoding": "gzip, deflate"})
    assert plain.getheader("Content-Encoding") is None and plain_body == (built_site / TRANSCRIPT[1:]).read_bytes()
    assert zipped.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(zipped_body) == plain_body and len(zipped_body) < len(plain_body)
    assert int(zipped.getheader("Content-Length")) == len(zipped_body)
    assert zipped.getheader("Vary") == plain.getheader("Vary") == "Accept-Encoding"
    assert zipped.getheader("ETag") != plain.getheader("ETag")  # two representations, two tags
    refused, _ = request(address, "GET", TRANSCRIPT, {"Accept-Encoding": "gzip;q=0, identity"})
    assert refused.getheader("Content-Encoding") is None
    audio, _ = request(address, "GET", MP3, {"Accept-Encoding": "gzip"})
    assert audio.getheader("Content-Encoding") is None  # already compressed


@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_validators_answer_304(address: tuple[str, int], encoding: str) -> None:
    headers = {"Accept-Encoding": encoding} if encoding else {}
    first, body = request(address, "GET", "/feed.xml", headers)
    etag, modified = first.getheader("ETag"), first.getheader("Last-Modified")
    assert etag.startswith('"') and modified.endswith("GMT") and body
    again, body = request(address, "GET", "/feed.xml", {**headers, "If-None-Match": etag})
    assert (again.status, body, again.getheader("ETag")) == (304, b"", etag)
    assert again.getheader("Access-Control-Allow-Origin") == "*"
    since, body = request(address, "GET", "/feed.xml", {**headers, "If-Modified-Since": modified})
    assert (since.status, body) == (304, b"")
    stale, body = request(address, "GET", "/feed.xml", {**headers, "If-None-Match": '"other"',
                                                        "If-Modified-Since": modified})  # fmt: skip
    assert stale.status == 200 and body  # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)


def test_if_range_with_the_current_etag_keeps_the_range(address: tuple[str, int], built_site: Path) -> None:
    first, _ = request(address, "HEAD", MP3)
    data = (built_site / MP3[1:]).read_bytes()
    current, body = request(address, "GET", MP3, {"Range": "bytes=0-9", "If-Range": first.getheader("ETag")})
    assert (current.status, body) == (206, data[:10])
    stale, body = request(address, "GET", MP3, {"Range": "bytes=0-9", "If-Range": '"old"'})
    assert (stale.status, body) == (200, data)


# -------------------------------------------------------------------------------------------------- S3


def test_s3_upload_gzips_text_and_lets_web_players_read_it(
    built_site: Path, s3_endpoint: str, s3_session: boto3.session.Session
) -> None:
    bucket = f"pod-{uuid.uuid4().hex[:12]}"
    client = s3_session.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=bucket)
    existing_rule = {"AllowedOrigins": ["https://admin.example"], "AllowedMethods": ["PUT"]}
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [existing_rule]})

    first = targets.publish_site(built_site, f"s3://{bucket}/show", endpoint_url=s3_endpoint, session=s3_session)
    assert first.notes == ()
    rules = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert len(rules) == 2 and rules[0]["AllowedOrigins"] == ["https://admin.example"]  # the owner's rule kept
    assert rules[1]["AllowedOrigins"] == ["*"] and set(rules[1]["AllowedMethods"]) == {"GET", "HEAD"}

    head = client.head_object(Bucket=bucket, Key=f"show{CHAPTERS}")
    assert head["ContentEncoding"] == "gzip" and head["ContentType"] == "application/json"
    stored = client.get_object(Bucket=bucket, Key=f"show{CHAPTERS}")["Body"].read()
    assert gzip.decompress(stored) == (built_site / CHAPTERS[1:]).read_bytes()
    assert "ContentEncoding" not in client.head_object(Bucket=bucket, Key=f"show{MP3}")

    url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": f"show{CHAPTERS}"})
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Origin": "https://player.example"})) as answer:
        assert answer.headers["Access-Control-Allow-Origin"] == "https://player.example"
        etag, modified = answer.headers["ETag"], answer.headers["Last-Modified"]
    assert etag and modified
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(urllib.request.Request(url, headers={"If-None-Match": etag}))
    assert not_modified.value.code == 304

    second = targets.publish_site(built_site, f"s3://{bucket}/show", endpoint_url=s3_endpoint, session=s3_session)
    assert second.uploaded == () and len(second.unchanged) == len(first.uploaded)  # gzip is deterministic
    assert len(client.get_bucket_cors(Bucket=bucket)["CORSRules"]) == 2  # not added twice
