"""Whether one response's record was written: what the online guard waits for.

:meth:`~leakguard.audit.sinks.AuditSink.emit_tracked` returns a :class:`Receipt`; the
writer thread settles it once the record is in storage (``written``) or once a write of it
failed (``failed``). A response whose record could not be written takes
``online.on_failure``, and the record says so when it is written later: the writer amends
it before the next attempt (``action: block``, ``reason: audit_write_failed``, what the
guard had decided under ``decided``; or ``recorded_late: true`` when the response was let
through). The chain only ever holds the amended record, so nothing is lost and the log
does not claim a delivery that did not happen.

States: ``pending`` (queued) → ``writing`` (the writer holds it) → ``written``; or
``pending``/``writing`` → ``failed`` (a write failed, or the caller stopped waiting while
it was still queued). Callbacks run in the thread that settles the receipt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["AUDIT_WRITE_FAILED", "Receipt"]

Record = dict[str, Any]
OnFailure = Literal["block", "pass", "none"]
AUDIT_WRITE_FAILED = "audit_write_failed"


class Receipt:
    """The fate of one queued record (thread-safe)."""

    __slots__ = ("_amended", "_callbacks", "_lock", "_settled", "_state", "on_failure", "queued")

    def __init__(self, on_failure: OnFailure) -> None:
        self.on_failure = on_failure  # what the caller does if the record is not written
        self.queued = False  # False: refused (queue full, sink closed): never written
        self._lock = threading.Lock()
        self._state = "pending"
        self._amended = False
        self._callbacks: list[Callable[[bool], None]] = []
        self._settled = threading.Event()

    @classmethod
    def settled(cls, *, written: bool) -> Receipt:
        """A receipt already settled (nothing to write, or refused)."""
        receipt = cls("none")
        receipt._state = "written" if written else "failed"
        receipt._settled.set()
        return receipt

    @property
    def state(self) -> str:
        return self._state

    @property
    def done(self) -> bool:
        return self._state in ("written", "failed")

    @property
    def written(self) -> bool:
        return self._state == "written"

    def add_done_callback(self, callback: Callable[[bool], None]) -> None:
        """``callback(written)`` once settled (at once if it is already)."""
        with self._lock:
            if not self.done:
                self._callbacks.append(callback)
                return
        callback(self.written)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until settled (True) or ``timeout`` (False)."""
        return self._settled.wait(timeout)

    def give_up(self) -> bool | None:
        """The caller stops waiting: True if the record now counts as not written (it
        will be amended), False if it was written, None while a write is in progress."""
        with self._lock:
            if self._state == "writing":
                return None
            if self._state == "pending":
                self._settle("failed")
        return not self.written

    def fail_now(self) -> None:
        """The sink is failing already: the caller takes its failure action at once."""
        with self._lock:
            self._settle("failed")

    # -- the writer thread -------------------------------------------------------------

    def begin(self, record: Record) -> Record:
        """Before a write attempt: the record to write (amended once it failed)."""
        with self._lock:
            if self._state == "pending":
                self._state = "writing"
            elif self._state == "failed" and not self._amended:
                self._amended = True
                record.update(_amendment(record, self.on_failure))
        return record

    def attempt_failed(self) -> None:
        with self._lock:
            if self._state == "writing":
                self._settle("failed")

    def attempt_written(self) -> None:
        with self._lock:
            if self._state == "writing":
                self._settle("written")

    def _settle(self, state: str) -> None:  # under the lock
        self._state = state
        self._settled.set()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(state == "written")


def _amendment(record: Record, on_failure: OnFailure) -> Record:
    """What a record says once its response took the failure action."""
    if on_failure == "block" and record.get("action") != "block":
        decided = {"action": record.get("action"), "reason": record.get("reason")}
        return {"action": "block", "reason": AUDIT_WRITE_FAILED, "decided": decided}
    if on_failure == "pass":
        return {"recorded_late": True}
    return {}
