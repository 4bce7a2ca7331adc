"""The web portal: Russian pages for curators, municipalities, the region and auditors.

The portal is not a service like the other four: it owns no data, stores nothing and sends no
event. Each page asks the services' public HTTP APIs with the signed-in user's own token
(``client.py``) and renders HTML; the services decide what that user may see or change. It
imports no other service's module: what it needs to know of them is their HTTP API.

The frame (what every page shares)
    ``runtime.py``     wiring: the HTTP client to the API, ``app.state.portal``
    ``routes.py``      every page group's routes in one router (``PAGE_GROUPS``)
    ``frame.py``       ``PortalRoute`` (CSRF check, sign-in redirect, error pages), the ``Signed``
                       and ``State`` dependencies, ``render`` and ``see_other``, ``FIELD_TITLES``
    ``auth.py``        the session cookie, the demo accounts, the titles of roles
    ``client.py``      the API client (``ApiClient``) and its ``ApiError``
    ``navigation.py``  everything decided by the user's role: the menu, the start page, links
    ``templating.py``  the Jinja environment, shared filters (``ru_date``) and words
    ``lookups.py``     what several page groups ask: own organisation, people's names, scope
    ``collation.py``   the Russian alphabetical order (``ru_key``) for names and titles
    ``charts.py``, ``export.py``, ``survey_status.py``, ``trail_text.py`` (the audit trail in
    words): helpers of the pages, no routes

The pages: one module per page group in ``pages/``; find a page by its URL here
    ``/``, ``/login`` (and its second factor: ``/login/code``, ``/login/enrol``), ``/logout``,
    ``/static/…``                                                   ``pages/home.py``
    ``/account`` (one's own password and recovery codes)          ``pages/account.py``
    ``/notifications…`` (the bell)                                 ``pages/notifications.py``
    ``/organisations/{id}/worklist`` (a curator's start page)     ``pages/worklist.py``
    ``/bases``, ``/organisations/{id}`` (the bases), ``…/import``, ``…/template``,
    ``/people/{id}``, ``/people/{id}/withdraw``                     ``pages/people.py``
    ``/organisations/{id}/people/new`` (a person by form)          ``pages/person_form.py``
    ``/organisations/{id}/programmes``                              ``pages/programmes.py``
    ``/organisations/{id}/documents``, ``…/curator-order``,
    ``/people/{id}/consent-form``, ``/files/{id}/{fmt}``            ``pages/documents.py``
    ``/organisations/{id}/pairing…``, ``…/pairs``, ``…/pairs-order`` ``pages/pairing.py``
    ``/pairs/{id}`` and its meetings, feedback, goals, plan, completion ``pages/pair.py``
    ``/dashboard``, ``/dashboard/export.xlsx``                      ``pages/dashboards.py``
    ``/auditor``, ``/auditor/verify``, ``/auditor/trail``           ``pages/auditor.py``
    ``/organisations/{id}/roadmap…``                                ``pages/roadmaps.py``
    ``/surveys…``, ``/organisations/{id}/surveys``, ``/pairs/{id}/surveys/…`` ``pages/surveys.py``
    ``/reports…``, ``/organisations/{id}/reports``                  ``pages/reports.py``
    ``/roadmap`` (the menu's: the user's own)                        ``pages/roadmaps.py``
    ``/practices…`` (the bank of best practices)                     ``pages/practices.py``
    ``/territory/documents``, ``/awards…``                           ``pages/awards.py``
    ``/nominations…`` («Наставник года»: nominations, decisions, awards) ``pages/nominations.py``
    ``/training…`` («Школа наставников»: materials, completions)      ``pages/training.py``
    ``/calendar`` (the reporting calendar the region configures)     ``pages/calendar.py``
    ``/forms`` (the region's catalogue of forms of mentorship)      ``pages/forms.py``
    ``/reports/upward`` (a territory's report on demand)            ``pages/report_upward.py``
    ``/people/{id}/invitation`` (a participant's code), ``/login/invitation``, ``/my`` (a
    participant's pairs), ``/my/pairs/{id}/feedback``               ``pages/participant.py``
    any other address a browser opens (Russian «not found»)         ``pages/errors.py``
Each module's docstring lists its URLs exactly (``tests/unit/portal/test_frame.py`` checks).

Templates live in ``templates/`` (``base.html`` is the frame: menu, who is signed in; a name
starting with ``_`` is a fragment htmx swaps in); CSS and the vendored htmx in ``static/``.

To add a page: a route in its group's module (or a new module in ``pages/`` listed in
``routes.PAGE_GROUPS`` and above), made with ``page_router()``, taking ``s: Signed`` and
answering ``render(request, "name.html", actor=s.actor, …)``; its template extends
``base.html``; every form field gets its Russian label in ``frame.FIELD_TITLES``; a menu entry
or anything else that depends on the role goes in ``navigation.py``.
"""
