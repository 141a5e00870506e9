"""`python -m vecclust`: the same as the `vecclust` command."""

import sys

from ._cli import main

sys.exit(main())
