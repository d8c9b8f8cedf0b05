"""nlmg-media: turn a one-page book summary into narration, captions, video, a curated playlist and a feed.

Stages are plain functions over dataclasses (see ``document``, ``timeline``); ``pipeline.cli`` only wires them.
"""

__version__ = "0.1.0"
