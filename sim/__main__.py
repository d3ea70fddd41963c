"""``python -m sim``: see :mod:`sim.apps.cli`."""

import sys

from sim.apps.cli import main

if __name__ == "__main__":  # not when a spawned worker process re-imports this module
    sys.exit(main())
