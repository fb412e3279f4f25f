"""Run the command line: `python -m edi.x12 parse|validate|render|ack FILE`."""

import sys

from .cli import main

sys.exit(main())
