"""``python -m lstm ...``: the same command line as the ``lstm`` console script."""
import sys

from .cli import main

sys.exit(main())
