"""quilt_hf.video"""
