"""The review page's evidence-package pages: a form to build the SOC 2 package for a
period, the package's state ("building…", ready, failed) and its downloads (the zipped
package directory, or each file on its own).

Same rules as the review page's other pages: a login (session cookie or bearer token) for
every page, the session-bound CSRF token on the POST; bad input is a message on the form
(400), never a 500. The build runs in :class:`~leakguard.audit.evidence.jobs.EvidenceJobs`'
worker thread; the state page reloads itself (a ``<meta>`` refresh: the page runs no script)
until the package is ready.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leakguard.audit.db import RecordFilter, count_records
from leakguard.audit.evidence.jobs import EvidenceJobs, default_period
from leakguard.audit.evidence.package import MANIFEST, OUTPUTS
from leakguard.audit.evidence.schema import Period, parse_period
from leakguard.exceptions import ConfigError

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["PageKit", "evidence_routes"]

MEDIA = {
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}
FILES = (*OUTPUTS, MANIFEST)
MAX_SAMPLE = 10_000


@dataclass(frozen=True, slots=True)
class PageKit:
    """What the evidence pages take from the review app: its login, rendering and form
    handling (one set of rules for every page)."""

    current: Callable[[Request], Any]  # the Session, or None when not logged in
    refused: Callable[[Request], Response]
    render: Callable[..., Response]
    secure: Callable[[Response], Response]
    form: Callable[[Request], Awaitable[dict[str, str]]]
    csrf: Callable[[Any], str]
    conn: Callable[[], Any]  # the app's database connection


def _log_extent(conn: Any) -> tuple[str | None, str | None]:
    row = conn.execute(
        "SELECT min(ts) AS first, max(ts) AS last FROM records WHERE kind = 'event'"
    ).fetchone()
    return row["first"], row["last"]


def _period(data: dict[str, str], conn: Any) -> Period:
    """The form's period; a :class:`ConfigError` for bad dates or a period without
    records (a package of nothing would only say the guard did not run)."""
    period = parse_period(
        data.get("from", "").strip(), data.get("to", "").strip(), names=("From", "To")
    )
    where = RecordFilter(since=period.first_day, until=period.end[:10])
    if count_records(conn, where) == 0:
        first, last = _log_extent(conn)
        held = (
            f"its records run from {first[:10]} to {last[:10]}"
            if first and last
            else "it holds no records"
        )
        raise ConfigError(
            f"the log holds no records from {period.first_day} to {period.last_day} "
            f"({held}): pick a period with records"
        )
    return period


def _sample(data: dict[str, str]) -> int:
    raw = data.get("sample", "25").strip() or "25"
    if not raw.isdigit() or int(raw) > MAX_SAMPLE:
        raise ConfigError(f"Sample {raw[:20]!r} must be a whole number from 0 to {MAX_SAMPLE:,}")
    return int(raw)


def evidence_routes(kit: PageKit, builds: Callable[[], EvidenceJobs]) -> list[Any]:
    """The routes ``/evidence``, ``/evidence/{id}``, ``/evidence/{id}/package.zip`` and
    ``/evidence/{id}/files/{name}``; ``builds()`` is the app's :class:`EvidenceJobs`
    (created when it starts)."""
    from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse
    from starlette.routing import Route

    def show_form(
        request: Request, session: Any, *, status: int = 200, error: str | None = None,
        values: dict[str, str] | None = None,
    ) -> Response:  # fmt: skip
        jobs = builds()
        first, last = default_period(*_log_extent(kit.conn()))
        chosen = {c.id for c in jobs.sources.choices()} if values is None else set(values)
        values = values or {}
        return kit.render(
            request, "evidence_form.html", status=status, session=session, error=error,
            csrf=kit.csrf(session), choices=jobs.sources.choices(), chosen=chosen,
            first=values.get("from", first), last=values.get("to", last),
            sample=values.get("sample", "25"), jobs=jobs.jobs(), kept=jobs.kept,
        )  # fmt: skip

    async def evidence(request: Request) -> Response:
        session = kit.current(request)
        if session is None:
            return kit.refused(request)
        if request.method == "GET":
            return show_form(request, session)
        data = await kit.form(request)
        if not hmac.compare_digest(data.get("csrf", ""), kit.csrf(session)):
            return kit.secure(PlainTextResponse("invalid form token; reload the page", 403))
        chosen = [name[4:] for name, value in data.items() if name.startswith("use:") and value]
        try:
            period = _period(data, kit.conn())
            job = builds().start(period, chosen, reviewer=session.reviewer, sample=_sample(data))
        except ConfigError as exc:
            values = {"from": data.get("from", ""), "to": data.get("to", "")}
            values |= {"sample": data.get("sample", "")} | dict.fromkeys(chosen, "1")
            return show_form(request, session, status=400, error=str(exc), values=values)
        return kit.secure(RedirectResponse(f"/evidence/{job.id}", status_code=303))

    async def state(request: Request) -> Response:
        session = kit.current(request)
        if session is None:
            return kit.refused(request)
        job = builds().get(request.path_params["job"])
        if job is None:
            return kit.render(request, "missing.html", status=404, session=session)
        return kit.render(request, "evidence_job.html", session=session, job=job, files=FILES)

    async def download(request: Request) -> Response:
        if kit.current(request) is None:
            return kit.refused(request)
        job = builds().get(request.path_params["job"])
        name = request.path_params.get("name", "package.zip")
        if job is None or (name != "package.zip" and name not in FILES):
            return kit.secure(PlainTextResponse("no such package or file", 404))
        if job.state != "ready":
            return kit.secure(PlainTextResponse(f"the package is {job.state}, not ready", 409))
        if name == "package.zip":
            return kit.secure(
                FileResponse(job.archive, media_type="application/zip", filename=job.archive.name)
            )
        path = job.directory / name
        return kit.secure(FileResponse(path, media_type=MEDIA[path.suffix]))

    return [
        Route("/evidence", evidence, methods=["GET", "POST"]),
        Route("/evidence/{job:str}", state),
        Route("/evidence/{job:str}/package.zip", download),
        Route("/evidence/{job:str}/files/{name:str}", download),
    ]
