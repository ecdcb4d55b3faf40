"""The audit step of one guarded response: count it, record it, and hold its last bytes
until the record is written.

A response is only as accounted for as its record. With a sink that tracks its records
(:meth:`~leakguard.audit.sinks.AuditSink.emit_tracked`), the responder waits (off the
event loop's critical path: a future the writer thread settles) until the record is in
storage, at most ``audit.write_timeout_s``; a record that cannot be written (disk full,
database locked, queue full, the writer stuck behind a backlog) makes the response take
``online.on_failure``: blocked by default, with one log line and the ``fail_closed``
counter, and the record (kept, written when storage comes back) says it was blocked.
A response already blocked, or one let through with ``on_failure: pass``, does not wait.
Other :class:`~leakguard.events.EventSink` s are trusted with ``emit``'s answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from leakguard.audit.fields import recorded_route
from leakguard.audit.receipts import AUDIT_WRITE_FAILED, OnFailure, Receipt
from leakguard.events import ScanEvent
from leakguard.online.metrics import reason_kind
from leakguard.online.scan_threads import running_asyncio_loop

if TYPE_CHECKING:
    from leakguard.online.responder import Responder

__all__ = ["record_response", "scan_event", "wait_written"]

logger = logging.getLogger("leakguard.middleware")


async def record_response(r: Responder, *, final: bool) -> bool:
    """Count the response and record it. False when it was blocked because its record
    was refused or not written (``online.on_failure: block``)."""
    rg, metrics = r.rg, r.mw.metrics
    metrics.responses.inc(r.kind, rg.action.value)
    metrics.scan_seconds.observe(rg.scan_seconds)
    for evidence in rg.evidence:
        f = evidence.finding
        for label in f.labels:  # each label of a merged span, with what was done to it
            metrics.findings.inc(label, f.action.value if f.action else "none")
    if rg.blocked:
        metrics.blocks.inc(reason_kind(rg.reason))
        # One line per block; no text, no client-controlled value (path, ids, model).
        labels = sorted({label for e in rg.evidence for label in e.finding.labels})
        logger.info(
            "blocked a %s response: %s (findings: %s)",
            r.kind,
            rg.reason,
            ", ".join(labels) or "none",
        )
    sink = r.mw.sink
    if sink is None:
        return True
    settled = final or rg.blocked  # nothing more to withhold
    on_failure: OnFailure = "none" if settled else r.online.on_failure
    try:
        emit_tracked = getattr(sink, "emit_tracked", None)
        if emit_tracked is None:
            accepted, receipt = sink.emit(scan_event(r)), None
        else:
            receipt = emit_tracked(scan_event(r), on_failure=on_failure)
            accepted = receipt.queued or receipt.written
    except Exception as exc:
        logger.warning("audit sink failed: %s", type(exc).__name__)
        accepted, receipt = False, None
    if not accepted:
        metrics.sink_refusals.inc()
        logger.warning("the record of response %s was refused by the audit sink", r.log_id)
        return await _failed(r, "audit_refused") if on_failure == "block" else True
    if receipt is None or on_failure != "block":
        return True
    if await wait_written(receipt, r.mw.config.audit.write_timeout_s):
        return True
    logger.warning(
        "response %s blocked: its record could not be written (%s)", r.log_id, AUDIT_WRITE_FAILED
    )
    return await _failed(r, AUDIT_WRITE_FAILED)


async def _failed(r: Responder, reason: str) -> bool:
    r.mw.metrics.fail_closed.inc(reason)
    r.rg.block(reason)
    r.rg.fully_scanned = False
    await r.block_stream(kind="leakguard_fail_closed")
    return False


async def wait_written(receipt: Receipt, timeout: float) -> bool:
    """Wait until the receipt settles, at most ``timeout`` seconds while the record is
    still queued (then it counts as not written, and is amended so); a write already
    under way is waited for, since its outcome decides what the record says."""
    if not receipt.done and not await _settles(receipt, timeout) and receipt.give_up() is None:
        while not receipt.done:  # a write under way: its outcome decides
            await _settles(receipt, timeout)
    return receipt.written


async def _settles(receipt: Receipt, timeout: float) -> bool:
    loop = running_asyncio_loop()
    if loop is None:  # another anyio backend: a worker thread waits
        with anyio.move_on_after(timeout):
            await anyio.to_thread.run_sync(receipt.wait, timeout, abandon_on_cancel=True)
        return receipt.done
    future: asyncio.Future[None] = loop.create_future()

    def settle(_written: bool) -> None:  # in the writer thread
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            loop.call_soon_threadsafe(_resolve, future)

    receipt.add_done_callback(settle)
    try:
        await asyncio.wait_for(asyncio.shield(future), timeout)
    except TimeoutError:
        return receipt.done
    return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def scan_event(r: Responder) -> ScanEvent:
    """The response's audit event (findings as evidence, never their text; the request
    id in the form logs and records use)."""
    rg = r.rg
    header = r.mw.config.audit.tenant_header
    return ScanEvent(
        source=r.mw.source,
        request_id=r.log_id,
        action=rg.action,
        evidence=tuple(rg.evidence),
        policy_version=rg.guard.policy_version,
        fully_scanned=rg.fully_scanned and not r.scans.passed_unscanned,
        reason=rg.reason or r.reason,
        route=recorded_route(r.scope["path"]),
        model=r.model or _request_model(r.request_peek),
        tenant=r.header(header) if header else None,
        scan_ms=rg.scan_seconds * 1000,
        text_chars=rg.text_chars,
    )


def _request_model(peek: bytearray) -> str | None:
    try:
        data = json.loads(bytes(peek))
    except ValueError:
        return None
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, str) else None
