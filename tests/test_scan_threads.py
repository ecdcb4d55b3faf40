"""ScanThreads: the online guard's worker threads on asyncio (bounds, time-outs, abandoning,
cancellation, idle exit) and the middleware's anyio fallback on other loops."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import random
import threading
import time
from typing import Any

import pytest

from leakguard.online.scan_threads import ScanThreads, ScanTimedOut, running_asyncio_loop

WHO = contextvars.ContextVar("WHO", default="nobody")


def _threads(pool: ScanThreads) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(pool.name + "-")]


def _slept(seconds: float, answer: str) -> str:
    time.sleep(seconds)
    return answer


def _settled(pool: ScanThreads) -> None:
    """Every live thread is idle and nothing waits (the pool's books balance)."""
    assert pool._backlog == 0
    assert pool._live == pool._idle
    assert pool._jobs.empty()


def test_results_errors_threads_and_context() -> None:
    pool = ScanThreads(2, name="lg-test-basic")

    def where() -> tuple[str, str]:
        return threading.current_thread().name, WHO.get()

    def broken() -> None:
        raise ValueError("boom")

    def stops() -> None:
        raise StopIteration  # a future refuses this one: it must still come back

    async def main() -> None:
        WHO.set("caller")
        name, who = await pool.run(where, 5)
        assert name.startswith("lg-test-basic-")
        assert name != threading.current_thread().name
        assert who == "caller"  # the caller's context
        with pytest.raises(ValueError, match="boom"):
            await pool.run(broken, 5)
        with pytest.raises(RuntimeError, match="StopIteration"):
            await pool.run(stops, 5)

    asyncio.run(main())
    asyncio.run(main())  # a second event loop: the same threads serve it
    _settled(pool)


def test_at_most_size_scans_run_at_once() -> None:
    pool = ScanThreads(2, name="lg-test-bound")
    lock = threading.Lock()
    running = 0
    peak = 0

    def job(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return i

    async def main() -> list[int]:
        return list(
            await asyncio.gather(*(pool.run(functools.partial(job, i), 5) for i in range(12)))
        )

    assert asyncio.run(main()) == list(range(12))
    assert peak == 2
    assert len(_threads(pool)) <= 2
    _settled(pool)


def test_waiting_for_a_thread_does_not_count_against_the_time_out() -> None:
    pool = ScanThreads(1, name="lg-test-wait")

    async def main() -> list[Any]:
        first = asyncio.ensure_future(pool.run(functools.partial(_slept, 0.4, "first"), 5))
        await asyncio.sleep(0.05)  # the first one holds the only thread
        # Waits ~0.35 s, then runs 0.05 s: within its 0.25 s time-out.
        second = pool.run(functools.partial(_slept, 0.05, "second"), 0.25)
        return list(await asyncio.gather(first, second))

    assert asyncio.run(main()) == ["first", "second"]
    _settled(pool)


def test_a_timed_out_scan_is_abandoned_and_frees_its_slot() -> None:
    pool = ScanThreads(1, name="lg-test-timeout")
    release = threading.Event()
    finished = threading.Event()

    def hangs() -> str:
        release.wait(10)
        finished.set()
        return "late"

    async def main() -> None:
        started = time.monotonic()
        with pytest.raises(ScanTimedOut):
            await pool.run(hangs, 0.1)
        assert time.monotonic() - started < 2
        # The only slot was the hung scan's: a new thread takes the next scan at once.
        assert await pool.run(lambda: "next", 1) == "next"
        assert pool.threads == 1
        assert not finished.is_set()

    asyncio.run(main())
    release.set()
    assert finished.wait(5)
    deadline = time.monotonic() + 5
    while len(_threads(pool)) > 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(_threads(pool)) == 1  # the abandoned scan's thread exited after it
    _settled(pool)


def test_a_hung_scan_with_others_waiting_hands_them_a_new_thread() -> None:
    pool = ScanThreads(1, name="lg-test-handover")
    release = threading.Event()

    async def main() -> list[Any]:
        hung = asyncio.ensure_future(pool.run(lambda: release.wait(10), 0.2))
        await asyncio.sleep(0.02)
        # Queued behind the hung scan (waiting does not count against their 1 s).
        waiting = [pool.run(functools.partial(int, i), 1) for i in range(3)]
        return list(await asyncio.gather(hung, *waiting, return_exceptions=True))

    out = asyncio.run(main())
    release.set()
    assert isinstance(out[0], ScanTimedOut)
    assert out[1:] == [0, 1, 2]
    _settled(pool)


def test_cancelled_callers() -> None:
    pool = ScanThreads(1, name="lg-test-cancel")
    release = threading.Event()
    ran: list[str] = []

    def blocker() -> str:
        release.wait(10)
        ran.append("blocker")
        return "blocker"

    async def main() -> None:
        running = asyncio.ensure_future(pool.run(blocker, 10))
        await asyncio.sleep(0.02)
        queued = asyncio.ensure_future(pool.run(lambda: ran.append("queued"), 10))
        await asyncio.sleep(0.02)
        queued.cancel()  # still waiting: it never runs
        with pytest.raises(asyncio.CancelledError):
            await queued
        running.cancel()  # running: abandoned, a new thread serves the next scan
        with pytest.raises(asyncio.CancelledError):
            await running
        assert await pool.run(lambda: "after", 1) == "after"

    asyncio.run(main())
    release.set()
    deadline = time.monotonic() + 5
    while "blocker" not in ran and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert ran == ["blocker"]
    _settled(pool)


def test_idle_threads_exit() -> None:
    pool = ScanThreads(3, idle_s=0.05, name="lg-test-idle")

    async def main() -> None:
        await asyncio.gather(*(pool.run(lambda: time.sleep(0.02), 1) for _ in range(3)))

    asyncio.run(main())
    deadline = time.monotonic() + 5
    while _threads(pool) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _threads(pool) == []
    assert pool.threads == 0
    # Still usable: new threads start on demand.
    assert asyncio.run(_one(pool)) == "again"
    _settled(pool)


async def _one(pool: ScanThreads) -> str:
    return await pool.run(lambda: "again", 1)


def test_random_load_keeps_the_books() -> None:
    """Random scan lengths, time-outs and cancellations: every caller gets its answer (or
    its time-out, or its cancellation) and the pool's books balance afterwards."""
    rng = random.Random(5)
    pool = ScanThreads(3, idle_s=0.2, name="lg-test-random")
    lock = threading.Lock()
    running: set[int] = set()

    def job(i: int, seconds: float) -> int:
        with lock:
            running.add(i)
        time.sleep(seconds)
        with lock:
            running.discard(i)
        return i

    async def one(i: int) -> str:
        seconds = rng.choice([0, 0.001, 0.005, 0.03])
        timeout = rng.choice([0.01, 0.5])
        task = asyncio.ensure_future(pool.run(lambda: job(i, seconds), timeout))
        if rng.random() < 0.2:
            await asyncio.sleep(rng.choice([0, 0.002, 0.01]))
            task.cancel()
        try:
            assert await task == i
            return "done"
        except ScanTimedOut:
            return "timed out"
        except asyncio.CancelledError:
            return "cancelled"

    async def main() -> list[str]:
        return list(await asyncio.gather(*(one(i) for i in range(300))))

    outcomes = asyncio.run(main())
    assert set(outcomes) == {"done", "timed out", "cancelled"}
    deadline = time.monotonic() + 5
    while running and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    _settled(pool)


def test_outside_asyncio() -> None:
    assert running_asyncio_loop() is None
    with pytest.raises(ValueError):
        ScanThreads(0)
