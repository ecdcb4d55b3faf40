"""Run independent shard tasks: in this process, in local worker processes, or on Dask.

The corpus sanitizer and the index builder cut their work into shards (see
:mod:`leakguard.corpus`) and hand a picklable task per shard to :func:`run_tasks`, which
yields each task's result as it finishes. The same task function runs unchanged in all
three places; heavy per-worker state (a spaCy pipeline) is built once per worker process
by the task function itself and cached there.

Dask's distributed scheduler is an optional extra (``pip install 'leakguard[scale]'``),
imported only when ``dask`` is given: ``"local"`` starts a ``LocalCluster`` on this
machine, anything else is a scheduler address (``tcp://scheduler:8786``).
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from leakguard.exceptions import MissingExtraError

__all__ = ["Completed", "cpu_workers", "run_tasks"]

T = TypeVar("T")
R = TypeVar("R")

LOCAL_CLUSTER = "local"


@dataclass(frozen=True, slots=True)
class Completed(Generic[R]):
    """One finished task: its index in the task list, and its result or its error."""

    index: int
    result: R | None = None
    error: BaseException | None = None


def cpu_workers(requested: int = 0) -> int:
    """``requested`` worker processes, or one per usable CPU core when it is 0."""
    if requested > 0:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def run_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    workers: int = 1,
    dask: str | None = None,
    dask_processes: bool = True,
) -> Iterator[Completed[R]]:
    """Run ``fn`` on every task; yield each result (or error) as soon as it is done.

    ``workers``: local worker processes (1 = in this process, in order), or Dask workers
    for ``dask="local"``. ``dask_processes=False`` runs a local cluster's workers as
    threads of this process (for tests). A task that raises does not stop the others;
    its error is yielded for the caller to report. Breaking off the iteration cancels
    the tasks not started yet.
    """
    if not tasks:
        return iter(())
    if dask is not None:
        return _run_dask(fn, tasks, address=dask, workers=workers, processes=dask_processes)
    if workers <= 1:
        return _run_inline(fn, tasks)
    return _run_processes(fn, tasks, workers=workers)


def _run_inline(fn: Callable[[T], R], tasks: Sequence[T]) -> Iterator[Completed[R]]:
    for index, task in enumerate(tasks):
        try:
            result = fn(task)
        except Exception as exc:  # reported per task, like in the pools
            yield Completed(index, error=exc)
        else:
            yield Completed(index, result=result)


def _run_processes(
    fn: Callable[[T], R], tasks: Sequence[T], *, workers: int
) -> Iterator[Completed[R]]:
    # spawn, not fork: the parent may hold threads and loaded models, and a forked child
    # of a threaded process can deadlock. Each worker loads its own engine once.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
        pending: dict[Future[R], int] = {pool.submit(fn, t): i for i, t in enumerate(tasks)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    error = future.exception()
                    if error is None:
                        yield Completed(index, result=future.result())
                    else:
                        yield Completed(index, error=error)
        finally:
            for future in pending:
                future.cancel()


def _run_dask(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    address: str,
    workers: int,
    processes: bool,
) -> Iterator[Completed[R]]:
    try:
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        raise MissingExtraError("--dask", "scale", "distributed") from None
    cluster: Any = None
    if address == LOCAL_CLUSTER:
        # TCP on loopback, also for thread workers: the in-process transport would look
        # up this machine's public address first.
        cluster = distributed.LocalCluster(
            n_workers=max(1, workers),
            threads_per_worker=1,
            processes=processes,
            protocol="tcp://",
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    else:
        client = distributed.Client(address)
    try:
        # pure=False: two equal tasks are still two runs; the shard ids already dedupe.
        futures = client.map(fn, list(tasks), pure=False)
        index_of = {future.key: i for i, future in enumerate(futures)}
        for future in distributed.as_completed(futures):
            index = index_of[future.key]
            if future.status == "finished":
                yield Completed(index, result=future.result())
            else:
                yield Completed(index, error=future.exception())
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
