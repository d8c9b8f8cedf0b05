"""``python -m pipeline`` runs the ``nlmg-media`` command (handy where the console script is not on PATH)."""

from pipeline.cli import main

main()
