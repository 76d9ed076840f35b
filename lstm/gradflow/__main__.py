"""``python -m lstm.gradflow``: the ``lstm gradflow`` command."""
import sys

from .cli import main

sys.exit(main())
