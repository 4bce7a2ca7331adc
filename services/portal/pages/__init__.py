"""The portal's page groups, one module each; the map from a URL to its module is in
``services/portal/__init__.py``."""
