"""Console report pages: the out-of-hours handover, the manager figures and the audit log."""

from __future__ import annotations

import asyncio
from datetime import date

from aiohttp import web
from sqlalchemy import select

from storage.models import AuditEvent, Contact
from storage.repo import audit
from triage import figures, handover_report
from triage.clock import local_today
from triage.text import bad_text
from triage.webutil import ctx, current, render, requires

AUDIT_PAGE = 100


def _day(request: web.Request) -> date:
    c = ctx(request)
    raw = request.query.get("date", "")
    try:
        return date.fromisoformat(raw) if raw else local_today(c.profile)
    except ValueError as exc:
        raise web.HTTPBadRequest(text="The date must look like 2025-01-31.") from exc


async def _handover(request: web.Request, page: str
                    ) -> tuple[handover_report.Window, list[handover_report.Line]]:
    c = ctx(request)
    window = handover_report.window_for(c.profile, _day(request))
    async with c.db.transaction() as session:
        rows = await handover_report.lines(session, c.profile, window)
        await audit(session, current(request).username, "view_ooh_handover",
                    detail={"day": window.day.isoformat(), "page": page,
                            "contacts": len(rows)})
    return window, rows


@requires("officer")
async def handover_page(request: web.Request) -> web.StreamResponse:
    window, rows = await _handover(request, "html")
    c = ctx(request)
    return render(request, "handover.html", title="Out-of-hours handover",
                  heading=handover_report.title(window, c.profile), window=window, rows=rows,
                  columns=handover_report.COLUMNS, headings=handover_report.HEADINGS)


@requires("officer")
async def handover_pdf_file(request: web.Request) -> web.StreamResponse:
    window, rows = await _handover(request, "pdf")
    from triage.pdf import handover_pdf  # ~20 MB, loaded at the first PDF (see console.py)

    body = await asyncio.to_thread(
        handover_pdf, handover_report.title(window, ctx(request).profile), rows)
    return web.Response(
        body=body, content_type="application/pdf",
        headers={"Content-Disposition":
                 f'attachment; filename="handover-{window.day.isoformat()}.pdf"'},
    )


async def _figures(request: web.Request, page: str) -> figures.Figures | str:
    c = ctx(request)
    try:
        first, last = figures.parse_period(request.query.get("from") or None,
                                           request.query.get("to") or None,
                                           local_today(c.profile))
    except ValueError as exc:
        return str(exc)
    async with c.db.transaction() as session:
        result = await figures.compute(session, c.profile, first, last)
        await audit(session, current(request).username, "view_figures",
                    detail={"from": first.isoformat(), "to": last.isoformat(),
                            "page": page})
    return result


@requires("manager")
async def figures_page(request: web.Request) -> web.StreamResponse:
    result = await _figures(request, "html")
    if isinstance(result, str):
        return render(request, "figures.html", status=400, title="Figures", error=result,
                      fig=None, titles=figures.TITLES)
    return render(request, "figures.html", title="Figures", fig=result,
                  titles=figures.TITLES)


@requires("manager")
async def figures_csv(request: web.Request) -> web.StreamResponse:
    result = await _figures(request, "csv")
    if isinstance(result, str):
        raise web.HTTPBadRequest(text=result)
    name = f"figures-{result.first.isoformat()}-to-{result.last.isoformat()}.csv"
    return web.Response(
        text=figures.to_csv(result), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@requires("manager")
async def audit_page(request: web.Request) -> web.StreamResponse:
    c = ctx(request)
    reference = request.query.get("reference", "").strip().upper()[:20]
    actor = request.query.get("actor", "").strip().lower()[:80]
    action = request.query.get("action", "").strip()[:40]
    reference, actor, action = (
        "" if bad_text(v) else v for v in (reference, actor, action)
    )
    try:
        page = max(1, int(request.query.get("page", "1")))
    except ValueError:
        page = 1
    stmt = select(AuditEvent, Contact.reference).outerjoin(
        Contact, Contact.id == AuditEvent.contact_id
    )
    if reference:
        stmt = stmt.where(Contact.reference == reference)
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    stmt = stmt.order_by(AuditEvent.id.desc()).offset((page - 1) * AUDIT_PAGE).limit(
        AUDIT_PAGE + 1)
    async with c.db.transaction() as session:
        rows = [tuple(r) for r in (await session.execute(stmt)).all()]
        await audit(session, current(request).username, "view_audit",
                    detail={"reference": reference, "actor": actor, "action": action})
    return render(request, "audit.html", title="Audit log", events=rows[:AUDIT_PAGE],
                  more=len(rows) > AUDIT_PAGE, page=page, reference=reference, actor=actor,
                  action=action)
