"""``python -m pipeline`` runs the ``nlmg-media`` command (handy where the console script is not on PATH).

``run`` is also the console script's entry point. Loading the command line (Click, NumPy, …) is most of start-up,
and a ``KeyboardInterrupt`` raised in the middle of an import can land in a callback that Python ignores (the run
then carries on) or end in a traceback. So during the imports Ctrl-C is only noted, and acted on as soon as they
are done: the same one line and exit status 130 as at any later moment. Once the command has finished, Ctrl-C is
ignored while the interpreter shuts down, so the exit status stays the command's.
"""

import signal
import sys


def run() -> None:
    noted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: noted.append(number))
    try:
        from pipeline.cli import main
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        if noted:
            raise KeyboardInterrupt
        main()
    except KeyboardInterrupt:
        sys.stderr.write(("\n" if sys.stderr.isatty() else "") + "Interrupted.\n")
        sys.exit(130)
    finally:
        # The command is over (its exit status is decided): a Ctrl-C while the interpreter shuts down (up to a
        # second with NumPy and friends loaded) would otherwise kill it by the signal, losing that status.
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    run()
