"""The review page: a small Starlette + Jinja2 app over a redaction-log database.

Privacy officers log in with the review password (or send it as a bearer token), filter
and page through records, open one, see charts of findings over time and by label, and
record verdicts (``confirmed_leak`` / ``false_positive`` + comment). A verdict is itself a
chained record in the same database, written through a :class:`~leakguard.audit.sinks.SqliteSink`
with its own stream, so ``leakguard audit verify`` covers the reviewers too. The page never
has a raw value to show: records hold fingerprints and redacted context only.

Sessions are HMAC-signed cookies with a per-process secret (a restart logs everyone out),
``SameSite=Strict`` and ``HttpOnly``; every form carries a CSRF token bound to the session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from leakguard.audit.chain import AuditKey, utc_now
from leakguard.audit.db import (
    RecordFilter,
    connect,
    count_records,
    get_record,
    query_records,
    verdicts_for,
)
from leakguard.audit.evidence.jobs import EvidenceJobs, EvidenceSources
from leakguard.audit.report import VERDICTS, VerdictIndex, allowlist_yaml, export
from leakguard.audit.sinks import SqliteSink
from leakguard.config import LeakGuardConfig
from leakguard.exceptions import ConfigError, MissingExtraError

__all__ = ["PAGE_SIZE", "create_app"]

PAGE_SIZE = 25
SESSION_COOKIE = "leakguard_review"
SESSION_SECONDS = 8 * 3600
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
FILTERS = ("since", "until", "label", "action", "route", "model", "source")
VERDICT_FILTERS = (*VERDICTS, "unreviewed")


@dataclass(frozen=True, slots=True)
class Session:
    reviewer: str
    nonce: str


class _Signer:
    """Signs session cookies and CSRF tokens with a per-process secret."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)
        # Sessions ended by logout, until their cookie would have expired anyway.
        self._revoked: dict[str, int] = {}

    def _mac(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def cookie(self, reviewer: str) -> str:
        # The name travels base64url-encoded: any characters, cookie-safe.
        name = base64.urlsafe_b64encode(reviewer.encode()).decode().rstrip("=")
        payload = f"{int(time.time()) + SESSION_SECONDS}.{secrets.token_hex(8)}.{name}"
        return f"{payload}.{self._mac(payload)}"

    def session(self, cookie: str | None) -> Session | None:
        if not cookie or cookie.count(".") != 3:
            return None
        payload, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        expires, nonce, name = payload.split(".")
        if not expires.isdigit() or int(expires) < time.time() or nonce in self._revoked:
            return None
        reviewer = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
        return Session(reviewer, nonce)

    def csrf(self, session: Session) -> str:
        return self._mac(f"csrf|{session.nonce}")

    def revoke(self, session: Session) -> None:
        """End ``session`` now: its cookie is refused from here on (logout)."""
        now = int(time.time())
        self._revoked = {n: t for n, t in self._revoked.items() if t > now}
        self._revoked[session.nonce] = now + SESSION_SECONDS


class _Throttle:
    """At most ``limit`` failures per ``window`` seconds for each key (a client address, an
    account name), then 429 for that key only: one guesser does not lock others out."""

    def __init__(self, limit: int, window: float = 60.0, *, max_keys: int = 10_000) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = time.monotonic()
        found = self._failures.get(key, deque())
        while found and now - found[0] > self.window:
            found.popleft()
        return found

    def blocked(self, key: str) -> bool:
        return len(self._recent(key)) >= self.limit

    def failed(self, key: str) -> None:
        if key not in self._failures and len(self._failures) >= self.max_keys:
            stale = [k for k in self._failures if not self._recent(k)]
            for k in stale or list(self._failures)[: self.max_keys // 10]:
                del self._failures[k]
        found = self._recent(key)
        found.append(time.monotonic())
        self._failures[key] = found


def _templates() -> Any:
    try:
        from starlette.templating import Jinja2Templates
    except ImportError as exc:  # jinja2 missing
        raise MissingExtraError("the review page", "review", "jinja2") from exc
    return Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _reviewer_name(raw: str) -> str:
    return " ".join(raw.split())[:64] or "reviewer"


def create_app(
    db: str | Path,
    *,
    config: LeakGuardConfig,
    key: AuditKey,
    password: str,
    evidence: EvidenceSources | None = None,
    evidence_dir: str | Path | None = None,
) -> Any:
    """The review app for database ``db``. ``password`` is the token or password to log in.
    ``evidence``: what the evidence-package page may build from (default: the log alone);
    packages go to ``evidence_dir`` (default: a temporary directory, removed at shutdown)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Route

    from leakguard.audit.evidence.page import PageKit, evidence_routes

    templates = _templates()
    signer = _Signer()
    # Wrong passwords and bearer tokens: 10 a minute per client address; 30 a minute per
    # account name entered at login, from any address (slows a spread-out attack on one).
    by_address, by_account = _Throttle(10), _Throttle(30)
    db = Path(db)
    sources = evidence or EvidenceSources(audit_log=db)
    state: dict[str, Any] = {}
    audit = config.audit.model_copy(
        update={"sink": "sqlite", "path": str(db), "sync_every": "record"}
    )

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        state["conn"] = connect(db)
        state["verdicts"] = SqliteSink(audit, key=key, guard_config=None)
        state["evidence"] = EvidenceJobs(sources, key=key, root=evidence_dir)
        try:
            yield
        finally:
            state["evidence"].close()
            state["verdicts"].close()
            state["conn"].close()

    def secure(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    def render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return secure(templates.TemplateResponse(request, name, context, status_code=status))

    def address(request: Request) -> str:
        return request.client.host if request.client else "?"

    def current(request: Request) -> Session | None:
        bearer = request.headers.get("authorization", "")
        if bearer.startswith("Bearer "):
            if by_address.blocked(address(request)):
                request.scope["leakguard.throttled"] = True
                return None
            if hmac.compare_digest(bearer[7:].encode(), password.encode()):
                return Session("api", "api")
            by_address.failed(address(request))
            return None
        return signer.session(request.cookies.get(SESSION_COOKIE))

    def refused(request: Request) -> Response:
        """Not logged in: a bearer client gets 401 (429 while throttled), a browser the
        login page."""
        if request.headers.get("authorization", "").startswith("Bearer "):
            throttled = request.scope.get("leakguard.throttled", False)
            status, text = (429, "too many attempts; wait") if throttled else (401, "bad token")
            return secure(PlainTextResponse(text, status_code=status))
        return login_redirect()

    async def form(request: Request) -> dict[str, str]:
        body = (await request.body()).decode("utf-8", "replace")
        return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}

    def login_redirect() -> Response:
        return secure(RedirectResponse("/login", status_code=303))

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return render(request, "login.html", error=None)
        data = await form(request)
        client = address(request)
        account = _reviewer_name(data.get("reviewer", "")).casefold()
        if by_address.blocked(client) or by_account.blocked(account):
            return render(request, "login.html", status=429, error="Too many attempts; wait.")
        if not hmac.compare_digest(data.get("password", "").encode(), password.encode()):
            by_address.failed(client)
            by_account.failed(account)
            return render(request, "login.html", status=401, error="Wrong password.")
        response = RedirectResponse("/records", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            signer.cookie(_reviewer_name(data.get("reviewer", ""))),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
        )
        return secure(response)

    async def logout(request: Request) -> Response:
        session = signer.session(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            signer.revoke(session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return secure(response)

    def where_of(params: Mapping[str, str]) -> RecordFilter:
        """The filters of a query string; a bad value is a :class:`ConfigError`."""
        verdict = params.get("verdict") or None
        if verdict is not None and verdict not in VERDICT_FILTERS:
            raise ConfigError(f"verdict={verdict!r} must be one of {', '.join(VERDICT_FILTERS)}")
        return RecordFilter(**{name: params.get(name) or None for name in FILTERS})

    def verdict_index() -> VerdictIndex:
        rows = state["conn"].execute("SELECT body FROM records WHERE kind = 'verdict'")
        return VerdictIndex(json.loads(row["body"]) for row in rows)

    def labels_seen() -> list[str]:
        rows = state["conn"].execute("SELECT DISTINCT label FROM findings ORDER BY label")
        return [row["label"] for row in rows]

    def filter_context(params: Mapping[str, str]) -> dict[str, Any]:
        kept = {name: params[name] for name in (*FILTERS, "verdict") if params.get(name)}
        return {
            "filters": kept,
            "labels_seen": labels_seen(),
            "query": lambda **extra: urlencode({**kept, **extra}),
        }

    async def records(request: Request) -> Response:
        session = current(request)
        if session is None:
            return refused(request)
        params = request.query_params
        context = filter_context(params)
        try:
            where = where_of(params)
        except ConfigError as exc:  # shown, never silently ignored
            return render(
                request, "records.html", status=400, session=session, error=str(exc),
                rows=[], total=0, page=1, pages=1, **context,
            )  # fmt: skip
        conn, index = state["conn"], verdict_index()
        wanted = params.get("verdict")
        if wanted:  # the verdict that stands is computed per record (fingerprints too)
            matching = [r for r in query_records(conn, where) if _verdict_matches(index, r, wanted)]
            total = len(matching)
        else:
            total = count_records(conn, where)
        pages = max(1, -(-total // PAGE_SIZE))
        # Past the last page (however large the number): the last page.
        raw_page, page = params.get("page", "1"), 1
        if raw_page.isdigit():
            page = pages if len(raw_page) > 12 else min(max(int(raw_page), 1), pages)
        offset = (page - 1) * PAGE_SIZE
        if wanted:
            rows = matching[offset : offset + PAGE_SIZE]
        else:
            rows = list(query_records(conn, where, limit=PAGE_SIZE, offset=offset))
        for row in rows:
            standing = index.for_record(row)
            row["verdict"], row["verdict_by"] = standing or (None, None)
        return render(
            request,
            "records.html",
            session=session,
            error=None,
            rows=rows,
            total=total,
            page=page,
            pages=pages,
            **context,
        )

    async def export_records(request: Request) -> Response:
        """The filtered records as CSV or JSON Lines, verdicts included (audit export)."""
        if current(request) is None:
            return refused(request)
        fmt = request.path_params["fmt"]
        try:
            where = where_of(request.query_params)
        except ConfigError as exc:
            return secure(PlainTextResponse(str(exc), status_code=400))
        wanted = request.query_params.get("verdict")
        index = verdict_index()
        chosen = [
            r
            for r in query_records(state["conn"], where)
            if not wanted or _verdict_matches(index, r, wanted)
        ]
        out = io.StringIO()
        export(chosen, out, fmt=fmt, where=where, verdicts=index.verdicts)
        media = "text/csv" if fmt == "csv" else "application/x-ndjson"
        name = f"leakguard-records.{fmt}"
        headers = {"Content-Disposition": f'attachment; filename="{name}"'}
        return secure(Response(out.getvalue(), media_type=media, headers=headers))

    async def detail(request: Request) -> Response:
        session = current(request)
        if session is None:
            return refused(request)
        stream, seq = request.path_params["stream"], request.path_params["seq"]
        record = get_record(state["conn"], stream, seq)
        if record is None or record.get("kind") != "event":
            return render(request, "missing.html", status=404, session=session)
        if request.method == "POST":
            data = await form(request)
            if not hmac.compare_digest(data.get("csrf", ""), signer.csrf(session)):
                return secure(PlainTextResponse("invalid form token; reload the page", 403))
            verdict = data.get("verdict", "")
            if verdict not in VERDICTS:
                return secure(PlainTextResponse(f"verdict must be one of {VERDICTS}", 400))
            if not _record_verdict(state["verdicts"], record, data, session.reviewer):
                return secure(PlainTextResponse("the verdict could not be stored", 503))
            return secure(RedirectResponse(f"/records/{stream}/{seq}", status_code=303))
        index = verdict_index()
        return render(
            request,
            "detail.html",
            session=session,
            record=record,
            verdicts=verdicts_for(state["conn"], stream, seq),
            standing=[index.for_finding(record, i) for i in range(len(record["findings"]))],
            csrf=signer.csrf(session),
        )

    async def charts(request: Request) -> Response:
        session = current(request)
        if session is None:
            return refused(request)
        context = filter_context(request.query_params)
        try:
            where = where_of(request.query_params)
        except ConfigError as exc:
            return render(
                request, "charts.html", status=400, session=session, error=str(exc),
                by_day=[], by_label=[], **context,
            )  # fmt: skip
        by_day, by_label = _finding_counts(state["conn"], where)
        return render(
            request, "charts.html", session=session, error=None, by_day=by_day,
            by_label=by_label, **context,
        )  # fmt: skip

    async def allowlist(request: Request) -> Response:
        if current(request) is None:
            return refused(request)
        rows = state["conn"].execute("SELECT body FROM records WHERE kind = 'verdict'")
        snippet = allowlist_yaml(json.loads(row["body"]) for row in rows)
        return secure(PlainTextResponse(snippet, media_type="text/yaml"))

    async def home(request: Request) -> Response:
        return secure(RedirectResponse("/records", status_code=303))

    kit = PageKit(
        current=current, refused=refused, render=render, secure=secure, form=form,
        csrf=signer.csrf, conn=lambda: state["conn"],
    )  # fmt: skip
    return Starlette(
        routes=[
            *evidence_routes(kit, lambda: state["evidence"]),
            Route("/", home),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/records", records),
            Route("/records/{stream}/{seq:int}", detail, methods=["GET", "POST"]),
            Route("/charts", charts),
            Route("/export.{fmt:str}", export_records),
            Route("/allowlist.yaml", allowlist),
        ],
        lifespan=lifespan,
    )


def _verdict_matches(index: VerdictIndex, record: dict[str, Any], wanted: str) -> bool:
    standing = index.for_record(record)
    if wanted == "unreviewed":
        return standing is None
    return standing is not None and standing[0] == wanted


def _record_verdict(
    sink: SqliteSink, record: dict[str, Any], data: dict[str, str], who: str
) -> bool:
    """Write a chained verdict record and wait until it is committed."""
    findings = record.get("findings") or []
    index = data.get("finding", "")
    chosen = [int(index)] if index.isdigit() and int(index) < len(findings) else None
    picked = [findings[i] for i in chosen] if chosen else findings
    verdict = {
        "kind": "verdict",
        "ts": utc_now(),
        "target": {"stream": record["stream"], "seq": record["seq"]},
        "finding": chosen[0] if chosen else None,
        "verdict": data["verdict"],
        "comment": data.get("comment", "")[:2000],
        "reviewer": who,
        "findings": [{"label": f["label"], "fingerprint": f.get("fingerprint")} for f in picked],
    }
    return sink.submit(verdict) and sink.flush()


def _finding_counts(
    conn: Any, where: RecordFilter
) -> tuple[list[tuple[str, int, float]], list[tuple[str, int, float]]]:
    """Findings per day and per label as (name, count, share of the largest bar)."""
    sql, params = where.where()  # its column names exist in `records` only: unambiguous
    if where.label:
        sql, params = f"{sql} AND f.label = ?", [*params, where.label]
    base = f"FROM findings f JOIN records r ON r.id = f.record_id WHERE {sql}"
    by_day = conn.execute(
        f"SELECT substr(r.ts, 1, 10) AS name, count(*) AS n {base} GROUP BY name ORDER BY name",
        params,
    ).fetchall()
    by_label = conn.execute(
        f"SELECT f.label AS name, count(*) AS n {base} GROUP BY name ORDER BY n DESC", params
    ).fetchall()

    def bars(rows: list[Any]) -> list[tuple[str, int, float]]:
        top = max((row["n"] for row in rows), default=1)
        return [(row["name"], row["n"], 100.0 * row["n"] / top) for row in rows]

    return bars(by_day), bars(by_label)
