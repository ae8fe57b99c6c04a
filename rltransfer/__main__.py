"""python -m rltransfer."""

import sys

from rltransfer.cli import main

sys.exit(main())
