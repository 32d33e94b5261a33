"""``python -m invariant_inr``: the same as the ``invariant-inr`` command (see :mod:`invariant_inr.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
