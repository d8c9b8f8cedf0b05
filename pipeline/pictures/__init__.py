"""Pictures: the cover and the slides of the video, each distinct picture drawn once and cached by what it shows."""
