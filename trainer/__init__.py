"""Fine-tune CLIP on quilt_1m with Accelerate: ``accelerate launch trainer/ --config ...``.

Modules: ``config`` (dataclass + YAML/CLI), ``tokenizer`` (offline OpenAI BPE), ``transforms``
(open_clip-style, no torchvision), ``data`` (loading, sampling, batching), ``model`` (CLIP, locked
towers, parameter groups), ``loss`` (global-batch contrastive loss), ``evaluation`` (val loss,
Recall@K, hooks), ``checkpointing`` (resume bookkeeping), ``loop`` (the training loop), ``cli``.
"""
