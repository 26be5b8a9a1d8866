"""``python -m gentoolkit``: the command line of :mod:`gentoolkit.cli`."""

import sys

from gentoolkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
