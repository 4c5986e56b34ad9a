"""quilt_hf.eval"""
