"""`python -m host_tools`: the `itb` command."""

import sys

from host_tools.cli import main

sys.exit(main())
