"""python -m rltransfer.cli."""

import sys

from rltransfer.cli import main

sys.exit(main())
