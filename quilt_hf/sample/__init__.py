"""quilt_hf.sample"""
