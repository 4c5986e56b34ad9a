"""Sources of image-text pairs. Each source module exposes

- ``plan_shards(source_config: dict, base_dir: Path, shard_size: int) -> list[ShardTask]``
- ``iter_candidates(task: ShardTask) -> Iterator[Candidate | SkipRecord]``
"""
