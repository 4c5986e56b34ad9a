"""The YouTube source: discover lectures (``discover``, ``filter``), fetch them (``fetch``), and run
fetch + ``quilt_hf.video.pipeline.process_video`` over many videos resumably (``run``)."""
