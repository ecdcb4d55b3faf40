"""The scans of one response, run off the event loop.

A :class:`Scans` object belongs to one response: it appends streamed text to the
response's channels and runs each due scan (a release, a close, a whole field) in a worker
thread, bounded by ``online.scan_timeout_s``. A time-out takes ``online.on_failure``: block
the response, or pass the text unscanned (counted, and marked in the audit record).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from leakguard.config import OnlineConfig
from leakguard.online.metrics import Metrics
from leakguard.online.scan_threads import ScanTimedOut
from leakguard.online.streaming import Channel, ResponseGuard

__all__ = ["RunScan", "Scans"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RunScan(Protocol):
    """Runs ``call`` off the event loop within ``timeout`` seconds (the middleware's)."""

    def __call__(self, fn: Callable[[], T], timeout: float, /) -> Awaitable[T]: ...


class Scans:
    """Scanning for one response: ``stream`` text in, ``release``/``close``/``whole`` out."""

    def __init__(
        self,
        rg: ResponseGuard,
        *,
        online: OnlineConfig,
        metrics: Metrics,
        run_scan: RunScan,
        request_id: str,
    ) -> None:
        self.rg = rg
        self.online = online
        self.metrics = metrics
        self.run_scan = run_scan
        self.request_id = request_id
        self.passed_unscanned = False  # some text went on unscanned (an explicit choice)
        self.held_since: dict[Channel, float] = {}

    async def stream(self, channel: Channel, text: str) -> str:
        """Add streamed text to a channel; the text released when a scan is due."""
        if not self.rg.channel(channel).held:
            self.held_since[channel] = time.perf_counter()
        if not self.rg.append(channel, text).due():
            return ""
        return await self.release(channel)

    async def release(self, channel: Channel) -> str:
        rg = self.rg
        return await self._run(channel, functools.partial(rg.release, channel), rg.abandon)

    async def close(self, channel: Channel) -> str:
        rg = self.rg
        return await self._run(channel, functools.partial(rg.close, channel), rg.abandon)

    async def whole(self, channel: Channel, text: str) -> str:
        """Scan one complete field (not streamed)."""
        call = functools.partial(self.rg.scan_whole, channel, text)
        return await self._run(channel, call, lambda _channel: text)

    async def values(self, texts: list[str]) -> list[str]:
        """Scan short complete values (outside the channels) in one go, each on its own."""
        call = functools.partial(self.rg.scan_values, texts)
        blocked = [""] * len(texts)
        return await self._run(("values",), call, lambda _channel: texts, blocked=blocked)

    async def off_loop(self, call: Callable[[], T], *, unscanned: T) -> T:
        """Run ``call`` (a walk over a large object and its scans) like one scan: off the
        event loop, bounded by ``online.scan_timeout_s``; ``unscanned`` on a time-out."""
        return await self._run(("values",), call, lambda _channel: unscanned, blocked=unscanned)

    async def _run(
        self,
        channel: Channel,
        call: Callable[[], T],
        unscanned: Callable[[Channel], T],
        *,
        blocked: T = "",  # type: ignore[assignment]
    ) -> T:
        """One scan off the event loop, at most ``online.max_concurrent_scans`` at a time,
        each bounded by ``online.scan_timeout_s`` (an abandoned scan finishes in its
        thread, unused). Waiting for a free scan slot does not count: under load,
        responses queue (and their streams wait) rather than fail."""
        try:
            result = await self.run_scan(call, self.online.scan_timeout_s)
        except ScanTimedOut:
            pass
        else:
            self._held(channel)
            return result
        logger.warning("scan of response %s timed out", self.request_id)
        if self.online.on_failure == "block":
            self.metrics.fail_closed.inc("scan_timeout")
            self.rg.block("scan_timeout")
            return blocked
        self.metrics.passed_unscanned.inc("scan_timeout")
        self.passed_unscanned = True
        return unscanned(channel)

    def _held(self, channel: Channel) -> None:
        """Observe how long the channel's text was held back before this release."""
        since = self.held_since.get(channel)
        sg = self.rg.channels.get(channel)
        if since is None or sg is None:
            return
        now = time.perf_counter()
        self.metrics.hold_seconds.observe(now - since)
        if sg.held:
            self.held_since[channel] = now
        else:
            del self.held_since[channel]
