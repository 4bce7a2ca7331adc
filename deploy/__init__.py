"""Deployment: manifests, configuration and the operator's tools (``deploy.tools``)."""
