"""``lazy("pkg.module:function")``: a factory that imports its module on first call.

Entry-point modules must stay light (docs/design.md#contract): specs point at factories through ``lazy`` so
that listing plugins never imports torch, RDKit or wfdb.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy(target: str) -> Callable[..., Any]:
    """A callable forwarding to ``module:attr``, imported when first called."""
    module, sep, attr = target.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"lazy target must look like 'package.module:function', got {target!r}")

    def call(*args, **kwargs):
        return getattr(importlib.import_module(module), attr)(*args, **kwargs)

    call.__name__ = attr
    call.__qualname__ = f"lazy({target})"
    call.__doc__ = f"Calls {target} (imported on first use)."
    return call
