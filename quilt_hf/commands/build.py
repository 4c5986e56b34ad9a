"""``quilt build``: build a dataset folder from a build config."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from quilt_hf.schema import BUILD_TARGETS

    parser = subparsers.add_parser(
        "build",
        help="build a quilt_1m dataset folder from build.yaml",
        description="Run the source shard tasks named in build.yaml (resumable: finished shards are "
        "skipped), deduplicate across sources, assign splits by source group, and write "
        "OUT/data/{split}-XXXXX-of-NNNNN.parquet plus OUT/README.md so that "
        "load_dataset('OUT') works.",
    )
    parser.add_argument(
        "--config", required=True, help="build.yaml (e.g. the one `quilt sample` wrote)"
    )
    parser.add_argument(
        "--out", default="quilt_1m", help="output dataset folder (default: quilt_1m)"
    )
    parser.add_argument(
        "--builder",
        default="quilt_1m",
        choices=list(BUILD_TARGETS),
        help="quilt_1m (all sources, default) or one source alone",
    )
    parser.add_argument(
        "--format",
        action="append",
        choices=["parquet", "webdataset"],
        help="also write webdataset tar shards with --format webdataset (parquet is always written)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="local worker processes, each given CPUs/N threads for torch and BLAS unless "
        "OMP_NUM_THREADS, MKL_NUM_THREADS or OPENBLAS_NUM_THREADS is set; with --executor ray "
        "and no --ray-address, the CPUs of the local Ray started here (default: CPUs)",
    )
    add_executor_arguments(parser)
    parser.add_argument(
        "--gated", action="store_true", help="add gating fields to the dataset card"
    )
    parser.set_defaults(func=run)


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor local|ray`` and the Ray flags, read by ``make_executor`` (with ``--workers``,
    which each command defines with its own default); ``quilt build`` and ``quilt youtube run``."""
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument(
        "--ray-address",
        default=None,
        help="Ray cluster address (auto, HOST:PORT, ray://HOST:PORT); default: start a local Ray",
    )
    parser.add_argument(
        "--ray-resources",
        action="append",
        default=[],
        metavar="SUBSET=KEY:N[,KEY:N]",
        help="Ray resources of each of a subset's tasks (num_cpus, num_gpus, memory or a custom "
        "resource), e.g. quilt=num_gpus:1; default 1 CPU",
    )
    parser.add_argument(
        "--ray-actors",
        action="append",
        default=[],
        metavar="SUBSET=N",
        help="run a subset's tasks on N long-lived Ray actors that keep their models loaded, "
        "e.g. quilt=2 with --ray-resources quilt=num_gpus:1 for two GPU workers",
    )


def make_executor(args: argparse.Namespace):
    if args.executor == "ray":
        from quilt_hf.ray_executor import RayExecutor

        executor = RayExecutor(
            address=args.ray_address,
            num_cpus=args.workers,
            resources=parse_resources(args.ray_resources),
            actors=parse_actors(args.ray_actors),
        )
        executor.connect()  # a missing cluster or an impossible resource fails before any output
        return executor
    from quilt_hf.executors import LocalExecutor

    return LocalExecutor(workers=args.workers)


def parse_resources(specs: list[str]) -> dict[str, dict[str, float]]:
    from quilt_hf.errors import QuiltError

    resources: dict[str, dict[str, float]] = {}
    for spec in specs:
        subset, _, pairs = spec.partition("=")
        _check_subset(subset.strip(), "--ray-resources", spec)
        try:
            resources[subset.strip()] = {
                key.strip(): float(value) for key, value in (p.split(":") for p in pairs.split(","))
            }
        except ValueError as error:
            raise QuiltError(
                f"--ray-resources {spec!r}: expected SUBSET=KEY:VALUE[,KEY:VALUE]"
            ) from error
    return resources


def parse_actors(specs: list[str]) -> dict[str, int]:
    from quilt_hf.errors import QuiltError

    actors: dict[str, int] = {}
    for spec in specs:
        subset, _, count = spec.partition("=")
        _check_subset(subset.strip(), "--ray-actors", spec)
        if not count.isdigit():
            raise QuiltError(f"--ray-actors {spec!r}: expected SUBSET=N")
        actors[subset.strip()] = int(count)
    return actors


def _check_subset(subset: str, flag: str, spec: str) -> None:
    from quilt_hf.errors import QuiltError
    from quilt_hf.schema import SUBSETS

    if subset not in SUBSETS:
        raise QuiltError(f"{flag} {spec!r}: unknown subset {subset!r}; choose one of {SUBSETS}")


def run(args: argparse.Namespace) -> int:
    from quilt_hf.build import build_dataset, format_summary
    from quilt_hf.build_config import BuildConfig

    config = BuildConfig.load(args.config)
    result = build_dataset(
        config,
        args.out,
        builder_name=args.builder,
        executor=make_executor(args),
        formats=tuple(args.format or ("parquet",)),
        gated=args.gated,
    )
    print(format_summary(result))
    return 1 if result.failed_tasks else 0
