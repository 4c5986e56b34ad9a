"""``accelerate launch trainer/ ...``, ``accelerate launch -m trainer ...``, ``python -m trainer``.

Imports are absolute on purpose: ``accelerate launch trainer/`` runs this file as a script, where
relative imports fail; the installed ``trainer`` package resolves.
"""

import sys

from trainer.cli import main

if __name__ == "__main__":
    sys.exit(main())
