"""A minimal Matroska stream of raw video frames, each with its own timestamp: how composited frames reach ffmpeg.

A still video has a frame only where the picture changes, so the frames are not evenly spaced; raw video on a pipe
has no timestamps and y4m only a constant rate. Matroska carries a timestamp per block and ffmpeg reads
``V_UNCOMPRESSED`` video (the pixel format named by a FourCC, ``I420``: planar YUV 4:2:0) from a pipe. The
segment's size is left unknown (a stream), and each frame is a cluster of its own (a block's timestamp is an
offset of at most 32 s from its cluster's).
"""

from __future__ import annotations

import struct

_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"
TIMESTAMP_SCALE_NS = 1_000_000  # block timestamps in milliseconds


def _size(count: int) -> bytes:
    return b"\x01" + count.to_bytes(7, "big")  # an 8-byte EBML length: always valid, never ambiguous


def _element(element_id: int, payload: bytes) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + _size(len(payload)) + payload


def _uint(element_id: int, value: int) -> bytes:
    return _element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def header(width: int, height: int, frame_ns: int) -> bytes:
    """The EBML header, the start of the (unsized) segment, its info and its one video track (YUV 4:2:0)."""
    ebml = _element(
        0x1A45DFA3,
        _uint(0x4286, 1) + _uint(0x42F7, 1) + _uint(0x42F2, 4) + _uint(0x42F3, 8)
        + _element(0x4282, b"matroska") + _uint(0x4287, 4) + _uint(0x4285, 2),
    )  # fmt: skip
    info = _element(0x1549A966, _uint(0x2AD7B1, TIMESTAMP_SCALE_NS) + _element(0x4D80, b"nlmg-media")
                    + _element(0x5741, b"nlmg-media"))  # fmt: skip
    video = _element(0xE0, _uint(0xB0, width) + _uint(0xBA, height) + _element(0x2EB524, b"I420"))
    track = _element(
        0xAE,
        _uint(0xD7, 1) + _uint(0x73C5, 1) + _uint(0x83, 1) + _element(0x86, b"V_UNCOMPRESSED") + _uint(0x9C, 0)
        + _uint(0x23E383, frame_ns) + video,
    )  # fmt: skip
    return ebml + b"\x18\x53\x80\x67" + _UNKNOWN_SIZE + info + _element(0x1654AE6B, track)


def frame(timestamp_ms: int, size: int) -> bytes:
    """The cluster and block headers of one frame of ``size`` bytes shown from ``timestamp_ms``: write the frame's
    bytes right after them (so a frame is never copied to be framed)."""
    block_head = b"\x81" + struct.pack(">hB", 0, 0x80)  # track 1, no offset from the cluster, a keyframe
    block = b"\xa3" + _size(len(block_head) + size) + block_head
    cluster_time = _uint(0xE7, timestamp_ms)
    return b"\x1f\x43\xb6\x75" + _size(len(cluster_time) + len(block) + size) + cluster_time + block
