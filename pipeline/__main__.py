"""``python -m pipeline`` runs the ``nlmg-media`` command (handy where the console script is not on PATH)."""

from .cli import main

main()
