"""Dataset builders, the datasets-facing face of the library (``download_and_prepare``).

- ``quilt_1m.Quilt1MBuilder``: Quilt from its sources, one config per build target (``quilt_1m``
  or one source alone); ``quilt build`` runs the same library code.
- ``released.ReleasedQuilt1MBuilder`` / ``released.ArchBuilder``: datasets users already hold;
  ``quilt import`` runs the same importers.

``datasets`` 4.0+ no longer runs loading scripts from ``load_dataset``; a published folder holds
only parquet shards and a README with ``configs:``. The library (``quilt_hf``) never imports these.
"""
