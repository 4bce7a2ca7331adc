"""The operator's tools, offered as ``nastavnik`` commands through the ``nastavnik.commands``
entry point group (pyproject.toml); the product never imports them."""
