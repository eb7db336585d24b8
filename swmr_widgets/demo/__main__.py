"""``python -m swmr_widgets.demo FILE [options]``: run the demo writer (see :func:`main`)."""

import sys

from swmr_widgets.demo.writer import main

sys.exit(main())
