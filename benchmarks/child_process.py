"""Run one benchmark stage in a fresh process and report its wall time and its own peak RSS.

A spawned child starts clean, so ``ru_maxrss`` is that stage's peak alone; modules named in
``warm_imports`` are imported before the clock starts, so library start-up is not counted.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any


def measure(
    target: Callable[..., Any], *args: Any, warm_imports: Sequence[str] = ()
) -> tuple[float, float]:
    """Return ``(seconds, peak_rss_mib)`` of ``target(*args)`` run in a spawned process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run, args=(target, args, tuple(warm_imports), queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def _run(target: Callable[..., Any], args: tuple, warm_imports: tuple[str, ...], queue) -> None:
    for module in warm_imports:
        importlib.import_module(module)
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    target(*args)
    seconds = time.perf_counter() - started
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
