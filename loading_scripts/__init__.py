"""Dataset builders: one per source and the unified ``quilt_1m`` builder.

``datasets`` 4.0+ no longer runs loading scripts from ``load_dataset``; these builders are run by
``quilt build`` (``download_and_prepare``) and the published folder holds only parquet shards and
a README with ``configs:``.
"""
