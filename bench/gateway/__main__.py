"""``python -m bench.gateway``: see :mod:`bench.gateway.cli`."""

import sys

from bench.gateway.cli import main

sys.exit(main())
