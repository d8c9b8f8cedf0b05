"""Video: the slideshow encoded from the narration, the timeline and the pictures."""
