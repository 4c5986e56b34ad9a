"""Text stage of the YouTube pipeline: transcripts, ASR correction, entities, ROI text, pathology."""
