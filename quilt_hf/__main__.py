import sys

from quilt_hf.cli import main

sys.exit(main())
