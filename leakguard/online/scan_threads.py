"""Worker threads for the online guard's scans, handed work cheaply on asyncio.

``anyio.to_thread.run_sync`` inside a ``CapacityLimiter`` and a ``move_on_after`` scope
costs ~150 us of CPU per call on this kind of machine (its queue is a pure-Python
``queue.Queue`` behind a ``threading.Condition``, plus the limiter's and the cancel
scope's bookkeeping): about a seventh of the proxy's own CPU per 1 KB answer, paid once
per whole body and once per scan batch of a stream. :class:`ScanThreads` does the same
job for ~30 us (``bench/bench_proxy.py``'s hand-off numbers are in the CHANGELOG): a C
``SimpleQueue`` of jobs, results handed back with ``loop.call_soon_threadsafe``.

What it keeps of the anyio version:

* at most ``size`` scans run at a time; the others wait for a thread, in order;
* the time-out counts from the moment a thread starts the scan (waiting for a free thread
  does not count: under load responses queue rather than fail);
* a scan that times out, or whose caller is cancelled while it runs, is *abandoned*: it
  finishes in its thread, unused, and no longer counts against ``size`` (a thread
  replaces it when scans are waiting), so hung scans cannot stop the others;
* a caller cancelled while its scan waits takes it out of the queue;
* the function runs in a copy of the caller's ``contextvars`` context;
* threads that sit idle for ``idle_s`` exit (anyio's do after 10 s too).

Only on asyncio (uvicorn's loop, uvloop included): :meth:`ScanThreads.run` raises
``RuntimeError`` on any other event loop and the middleware falls back to anyio there.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from leakguard.exceptions import ScanTimedOut

__all__ = ["ScanThreads", "ScanTimedOut", "running_asyncio_loop"]

T = TypeVar("T")

# A job's life: queued → running → done, or queued → cancelled (its caller gave up while
# it waited), or running → abandoned (timed out or its caller cancelled: the thread
# finishes it and exits).
_QUEUED, _RUNNING, _DONE, _CANCELLED, _ABANDONED = range(5)
# While a job waits for a thread its time-out is not running; the timer looks again this
# often (seconds, or the time-out itself when shorter).
_WAIT_POLL_S = 0.05


def running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio event loop, or None (no loop, or another library's)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class _Job(Generic[T]):
    __slots__ = ("context", "fn", "future", "loop", "started", "state", "timer")

    def __init__(self, fn: Callable[[], T], loop: asyncio.AbstractEventLoop) -> None:
        self.fn = fn
        self.loop = loop
        self.future: asyncio.Future[T] = loop.create_future()
        self.context = contextvars.copy_context()
        self.state = _QUEUED
        self.started = 0.0
        self.timer: asyncio.TimerHandle | None = None


def _deliver(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return  # its caller was cancelled meanwhile
    if error is None:
        future.set_result(result)
    elif isinstance(error, StopIteration):  # a future refuses it: its caller must not hang
        future.set_exception(RuntimeError(f"the scan raised {type(error).__name__}"))
    else:
        future.set_exception(error)


class ScanThreads:
    """Up to ``size`` daemon threads that run scans for coroutines on asyncio loops (any
    number of loops: each job goes back to the loop it came from)."""

    def __init__(self, size: int, *, idle_s: float = 10.0, name: str = "leakguard-scan") -> None:
        if size < 1:
            raise ValueError("ScanThreads needs at least one thread")
        self.size = size
        self.idle_s = idle_s
        self.name = name
        self._jobs: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        # Every queued job is accounted for once: it either took an idle thread (which
        # then left ``_idle``) or waits in ``_backlog`` for a busy one to come back.
        self._live = 0  # threads that will take more jobs (not those finishing abandoned ones)
        self._idle = 0  # of those, the ones waiting for a job that none has claimed
        self._backlog = 0
        self._spawned = 0

    @property
    def threads(self) -> int:
        """Threads that take jobs now (abandoned scans' threads not counted)."""
        return self._live

    async def run(self, fn: Callable[[], T], timeout: float) -> T:
        """``fn()`` in a worker thread; :class:`ScanTimedOut` when it runs longer than
        ``timeout`` seconds (it is then abandoned); its own exceptions are raised here."""
        loop = running_asyncio_loop()
        if loop is None:
            raise RuntimeError("ScanThreads.run needs a running asyncio event loop")
        job = _Job(fn, loop)
        self._submit(job)
        job.timer = loop.call_later(min(timeout, _WAIT_POLL_S), self._check, job, timeout)
        try:
            return await job.future
        except asyncio.CancelledError:
            self._give_up(job)
            raise
        finally:
            job.timer.cancel()

    # -- the event loop's side ---------------------------------------------------------
    def _submit(self, job: _Job[Any]) -> None:
        spawn = False
        with self._lock:
            if self._idle > 0:
                self._idle -= 1
            elif self._live < self.size:
                self._live += 1
                spawn = True
            else:
                self._backlog += 1
        self._jobs.put(job)
        if spawn:
            self._spawn()

    def _check(self, job: _Job[Any], timeout: float) -> None:
        """The job's timer: re-armed while the job waits or runs within its time-out;
        past it, the job is abandoned and its caller gets :class:`ScanTimedOut`."""
        with self._lock:
            if job.state == _QUEUED:
                job.timer = job.loop.call_later(
                    min(timeout, _WAIT_POLL_S), self._check, job, timeout
                )
                return
            if job.state != _RUNNING:
                return  # done: the result is on its way to the loop
            left = job.started + timeout - time.monotonic()
            if left > 0:
                job.timer = job.loop.call_later(left, self._check, job, timeout)
                return
            spawn = self._abandon(job)
        if spawn:
            self._spawn()
        if not job.future.done():
            job.future.set_exception(ScanTimedOut(f"the scan ran past {timeout:g} s"))

    def _give_up(self, job: _Job[Any]) -> None:
        """The caller was cancelled: a waiting job leaves the queue, a running one is
        abandoned."""
        spawn = False
        with self._lock:
            if job.state == _QUEUED:
                job.state = _CANCELLED  # the thread that takes it skips it
            elif job.state == _RUNNING:
                spawn = self._abandon(job)
        if spawn:
            self._spawn()

    def _abandon(self, job: _Job[Any]) -> bool:
        """Under the lock: the running job's thread leaves the pool when it is done.
        True when a new thread must take its place (jobs are waiting)."""
        job.state = _ABANDONED
        self._live -= 1
        if self._backlog > 0:
            self._backlog -= 1  # the new thread takes the next waiting job
            self._live += 1
            return True
        return False

    def _spawn(self) -> None:
        self._spawned += 1
        name = f"{self.name}-{self._spawned}"
        threading.Thread(target=self._work, name=name, daemon=True).start()

    # -- the threads' side ---------------------------------------------------------------
    def _work(self) -> None:
        jobs = self._jobs
        while True:
            try:
                job = jobs.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # no job is on its way to an idle thread: leave
                        self._idle -= 1
                        self._live -= 1
                        return
                continue  # a job was handed to an idle thread just now: wait for it
            with self._lock:
                if job.state == _CANCELLED:
                    self._settle()
                    del job  # hold nothing while idle
                    continue
                job.state = _RUNNING
                job.started = time.monotonic()
            error: BaseException | None = None
            result: Any = None
            try:
                result = job.context.run(job.fn)
            except BaseException as exc:  # handed to the caller, whatever it is
                error = exc
            with self._lock:
                abandoned = job.state == _ABANDONED
                job.state = _DONE
                if not abandoned:
                    self._settle()
            if abandoned:
                return  # nobody waits for this result; a thread took this one's place
            with contextlib.suppress(RuntimeError):  # a closed loop: its caller is gone
                job.loop.call_soon_threadsafe(_deliver, job.future, result, error)
            del job, result, error  # hold nothing while idle

    def _settle(self) -> None:
        """Under the lock: a thread that finished a job takes the next waiting one, or
        becomes idle."""
        if self._backlog > 0:
            self._backlog -= 1
        else:
            self._idle += 1
