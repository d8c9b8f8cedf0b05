"""Captioned slideshow video (issue 3 — in progress; not wired in until it lands).

``pipeline.render`` calls ``render_videos`` only when this module provides it, so renders make no video yet.
"""
