"""Every page of the portal: the bases, pairs and dashboards, the roadmap, the surveys, the
reporting calendar."""

from __future__ import annotations

from fastapi import APIRouter

from services.portal import pages, reports, roadmaps, surveys

router = APIRouter(include_in_schema=False)
# The routes themselves, in order (not nested routers): each keeps its PortalRoute class, and
# whoever lists the portal's paths (the gateway's test) sees them all.
for part in (pages.router, roadmaps.router, surveys.router, reports.router):
    router.routes.extend(part.routes)
