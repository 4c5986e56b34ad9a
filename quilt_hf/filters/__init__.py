"""quilt_hf.filters"""
