"""``python -m lambdagate.cli``: the same as the ``lambdagate`` command."""

import sys

from lambdagate.cli import main

sys.exit(main())
