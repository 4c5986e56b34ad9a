"""Sub-commands of ``quilt``: each module defines ``register(subparsers)``."""
