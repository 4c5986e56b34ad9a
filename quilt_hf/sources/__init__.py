"""Sources of image-text pairs. Each source module exposes

- ``plan_shards(source_config: dict, base_dir: Path, shard_size: int, options: dict) -> list[ShardTask]``
  where ``options`` holds ``download`` settings and ``work_dir``, a folder inside the build's
  output where a source may keep intermediate files (fetched and processed videos)
- ``iter_candidates(task: ShardTask) -> Iterator[Candidate | SkipRecord]``
"""
