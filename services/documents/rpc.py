"""Request/reply the documents service answers: none.

Documents asks (names from the registry, pairs from pairing, dashboards from monitoring: see
``peers``) but no other service queries it; what it issues reaches them as events.
"""
