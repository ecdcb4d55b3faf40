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

import contextlib
import ctypes
import importlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from types import FrameType
from typing import Any, Generic, TypeVar

from leakguard.exceptions import CorpusError, Interrupted, MissingExtraError

__all__ = [
    "Completed",
    "cpu_workers",
    "interrupt",
    "run_tasks",
    "stop_workers",
    "terminate_as_interrupt",
]

T = TypeVar("T")
R = TypeVar("R")

LOCAL_CLUSTER = "local"
_DASK_CONNECT_S = 10


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


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _worker_init() -> None:
    """In each worker process: die with the parent, and leave Ctrl-C to the parent.

    Without the first, a parent killed with SIGKILL (or dying any other way before it can
    stop its pool) leaves its workers running on, finishing shards nobody waits for and
    racing the next run. SIGINT reaches the whole process group from a terminal; the
    parent answers it by stopping the workers, so they need not print tracebacks of their own.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() == 1:  # the parent died before prctl took effect
            os._exit(1)


def interrupt(results: Iterator[Completed[Any]], exc: BaseException) -> None:
    """Stop a :func:`run_tasks` iteration after ``exc`` (an interrupt) reached its caller:
    the workers are killed now, not after their running tasks finish."""
    throw = getattr(results, "throw", None)
    if throw is not None:
        with contextlib.suppress(KeyboardInterrupt, SystemExit, StopIteration):
            throw(exc)
    stop_workers()


def stop_workers() -> None:
    """Kill this process's worker processes now (an interrupted run: their shards are
    unfinished and are discarded; finished shards were already marked by the workers)."""
    children = multiprocessing.active_children()
    for child in children:
        child.kill()
    for child in children:
        child.join(timeout=5)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`KeyboardInterrupt` in the main thread (as
    SIGINT does), so ``finally`` blocks run and worker processes are stopped. For the CLI."""

    def raise_interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_processes(
    fn: Callable[[T], R], tasks: Sequence[T], *, workers: int
) -> Iterator[Completed[R]]:
    # spawn, not fork: the parent may hold threads and loaded models, and a forked child
    # of a threaded process can deadlock. Each worker loads its own engine once.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)), mp_context=context, initializer=_worker_init
    ) as pool:
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
        except (KeyboardInterrupt, SystemExit):
            # Interrupted (Ctrl-C, SIGTERM): the pool's exit would wait for the running
            # tasks to finish; kill them instead, and let the pool mark every pending
            # future broken before anything is cancelled (cancelling first races the pool's
            # own clean-up, which then fails on the cancelled futures).
            stop_workers()
            pool.shutdown(wait=True)
            raise
        except GeneratorExit:  # the caller stopped early: tasks not started yet are dropped
            for future in pending:
                future.cancel()
            raise


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
        try:
            client = distributed.Client(address, timeout=_DASK_CONNECT_S)
        except (OSError, TimeoutError) as exc:
            raise CorpusError(
                f"cannot reach the Dask scheduler at {address!r} within {_DASK_CONNECT_S} s "
                f"({type(exc).__name__}); check that it runs and the address (e.g. "
                f"tcp://host:8786), or use --dask local"
            ) from None
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
