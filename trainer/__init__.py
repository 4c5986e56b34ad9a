"""Fine-tune CLIP on quilt_1m with Accelerate: ``accelerate launch trainer/ --config ...``.

Modules: ``config`` (dataclass + YAML/CLI), ``tokenizer`` (offline OpenAI BPE), ``transforms``
(open_clip-style, no torchvision), ``data`` (loading, sampling, batching), ``model`` (CLIP, locked
towers, parameter groups), ``loss`` (global-batch contrastive loss), ``step`` (one optimizer
step's passes: the contrastive batch spans accumulated micro-batches), ``evaluation`` (val loss,
Recall@K from quilt_hf.eval, hooks), ``checkpointing`` (resume bookkeeping, complete markers),
``loop`` (the training loop; ends with the model card), ``cli``.
"""
