"""Narration: the summary parsed, turned into speech text, synthesised, assembled, mastered, and laid on the one
timeline, with the views of that timeline a listener gets beside the MP3 (captions, chapters, transcript)."""
