"""``python -m neural_network``: the command line of :mod:`neural_network.apps.cli`."""

import sys

from .apps.cli import main

if __name__ == "__main__":
    sys.exit(main())
