"""The plugin template, shipped inside core as the data package ``core._template``.

``core new-plugin NAME`` (``core/scaffold.py``) renders every other file of this folder; this
one is not rendered: it only makes the folder a regular package, so that
``importlib.resources.files("core._template")`` finds it from a wheel and from an editable
install alike (see ``[tool.setuptools]`` in the top-level ``pyproject.toml``).
"""
