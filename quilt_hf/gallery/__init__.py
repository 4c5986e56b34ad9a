"""The curation gallery and the training report: static HTML sites that open from disk.

``quilt inspect`` writes a gallery of a built dataset (``site.py``): a paged, filterable,
searchable grid of image-text pairs, summary charts (``charts.py``) and per-video timelines
(``timeline.py``). ``quilt report`` writes a training report (``report.py``). The browser side
lives in ``assets/``.
"""
