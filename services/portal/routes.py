"""Every page of the portal: the routes of each page group (``pages/``), in one router."""

from __future__ import annotations

from fastapi import APIRouter

from services.portal.pages import (
    account,
    auditor,
    awards,
    calendar,
    dashboards,
    documents,
    errors,
    forms,
    home,
    nominations,
    notifications,
    pair,
    pairing,
    participant,
    people,
    person_form,
    practices,
    programmes,
    report_upward,
    reports,
    roadmaps,
    surveys,
    training,
    worklist,
)

#: The page groups, in the order their routes are listed; ``errors`` (the page for an address
#: that leads nowhere) last.
PAGE_GROUPS = (home, account, notifications, participant, worklist, people, person_form,
               programmes, documents, pairing, pair, dashboards, auditor, roadmaps, surveys,
               reports, practices, awards, nominations, training, calendar, forms,
               report_upward, errors)

router = APIRouter(include_in_schema=False)
# The routes themselves, in order (not nested routers): each keeps its PortalRoute class, and
# whoever lists the portal's paths (the gateway's test) sees them all.
for group in PAGE_GROUPS:
    router.routes.extend(group.router.routes)
