"""What the registry takes from other services' events: nothing.

The registry is where organisations, people, consents and programmes begin; every other
service follows its stream, never the reverse. Its own read model follows its own event store
(``views.py``, caught up by the service layer after every command), not the bus. Were the
registry ever to follow another service, the projection would be written here, as the pairing's
pools are (``services/pairing/consumers.py``), and started by ``runtime.py``.
"""

from __future__ import annotations

#: Projections of other services' streams this service runs (``shared.consumer`` projections).
PROJECTIONS: tuple[()] = ()
