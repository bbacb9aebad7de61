"""Plugin manager facade over pluggy: discovery, load errors, listing, allow/block.

Built-in pieces are registered like any plugin (datasette's default-plugins pattern): the
modules of :data:`DEFAULT_PLUGINS` together form the plugin ``core`` (specs in
:mod:`core.builtins`, commands such as ``core bench`` in :mod:`core.commands`). A plugin
whose import or hooks raise is recorded in :attr:`PluginManager.errors` and skipped, unless
``CORE_STRICT_PLUGINS=1``. ``CORE_DISABLE_PLUGINS=a,b`` blocks plugins by name.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import ModuleType
from typing import Iterable, Optional

import pluggy

import core
from core import hookspecs
from core.errors import UserError, unknown_name
from core.specs import SPEC_KINDS

ENTRY_POINT_GROUP = "core"
DEFAULT_PLUGINS = ("core.builtins", "core.commands")
KIND_HOOKS = {
    "dataset": "core_datasets",
    "encoder": "core_encoders",
    "projector": "core_projectors",
    "objective": "core_objectives",
    "evaluator": "core_evaluators",
    "recipe": "core_recipes",
    "augmentation": "core_augmentations",
}


@dataclass
class PluginInfo:
    """What ``core plugins`` shows about one plugin."""

    name: str
    version: str
    module: str
    hooks: list[str] = field(default_factory=list)
    names: dict[str, list[str]] = field(default_factory=dict)
    error: Optional[str] = None


def _strict() -> bool:
    return os.environ.get("CORE_STRICT_PLUGINS", "") not in ("", "0", "false")


def _disabled() -> set[str]:
    return {p.strip() for p in os.environ.get("CORE_DISABLE_PLUGINS", "").split(",") if p.strip()}


def _check_compatible(name: str, module: ModuleType) -> None:
    required = getattr(module, "CORE_REQUIRES", None)
    if not required:
        return
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        spec = SpecifierSet(required)
    except InvalidSpecifier as e:
        raise UserError(f"plugin '{name}' declares an invalid CORE_REQUIRES {required!r}: {e}")
    if not spec.contains(core.__version__, prereleases=True):
        raise UserError(
            f"plugin '{name}' supports core {required} but core {core.__version__} is installed; "
            f"upgrade the plugin or install a matching core"
        )


class PluginManager:
    """A small typed facade over :class:`pluggy.PluginManager`."""

    def __init__(self, load_entry_points: bool = True, builtins: Iterable[str] = DEFAULT_PLUGINS):
        self.pm = pluggy.PluginManager("core")
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._specs: dict[str, dict[str, object]] | None = None
        self._owner: dict[str, str] = {}  # pluggy name -> plugin name, for core's several modules
        self._register_builtins(tuple(builtins))
        if load_entry_points:
            self.load_entry_points()

    # -- registration -------------------------------------------------------------------
    def _register_builtins(self, modnames: tuple[str, ...]) -> None:
        """Register core's own modules as the one plugin ``core`` (pluggy names: the module names).

        Unlike a plugin's, an error here is core's own bug: it is raised, never recorded.
        """
        if not modnames:
            return
        info = PluginInfo(name="core", version=core.__version__, module=", ".join(modnames))
        self.infos["core"] = info
        for modname in modnames:
            module = importlib.import_module(modname)
            self.pm.register(module, name=modname)
            self._owner[modname] = "core"
            info.hooks += [h.name for h in self.pm.get_hookcallers(module) or []]
        self.pm.check_pending()
        info.hooks = sorted(set(info.hooks))

    def register_module(self, module: ModuleType, name: str, version: str = "") -> None:
        """Register one plugin module; errors are recorded (or raised when strict)."""
        info = PluginInfo(name=name, version=version, module=getattr(module, "__name__", str(module)))
        self.infos[name] = info
        try:
            _check_compatible(name, module)
            self.pm.register(module, name=name)
            self.pm.check_pending()
        except Exception as e:  # one broken plugin must not crash the host
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            self._fail(info, e)
            return
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(module) or [])
        self._specs = None

    def load_entry_points(self) -> None:
        """Discover plugins in the entry-point group ``core`` (honours CORE_DISABLE_PLUGINS)."""
        blocked = _disabled()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in blocked or ep.name in self.infos:
                continue
            version = ep.dist.version if ep.dist is not None else ""
            try:
                module = ep.load()
            except Exception as e:
                self._fail(PluginInfo(name=ep.name, version=version, module=ep.value), e)
                continue
            self.register_module(module, name=ep.name, version=version)

    def _fail(self, info: PluginInfo, err: BaseException) -> None:
        info.error = f"{type(err).__name__}: {err}"
        self.infos[info.name] = info
        if _strict():
            raise UserError(f"plugin '{info.name}' failed to load ({info.error}); "
                            f"fix or uninstall it, or unset CORE_STRICT_PLUGINS") from err

    # -- queries ------------------------------------------------------------------------
    def _collect(self) -> dict[str, dict[str, object]]:
        if self._specs is not None:
            return self._specs
        specs: dict[str, dict[str, object]] = {k: {} for k in KIND_HOOKS}
        for kind, hook in KIND_HOOKS.items():
            for plugin in self.pm.get_plugins():
                pname = self.pm.get_name(plugin)
                impl = getattr(plugin, hook, None)
                if impl is None:
                    continue
                info = self.infos[self._owner.get(pname, pname)]
                try:
                    items = list(impl() or [])
                    for spec in items:
                        if not isinstance(spec, SPEC_KINDS[kind]):
                            raise TypeError(f"{hook} returned {type(spec).__name__}, "
                                            f"expected {SPEC_KINDS[kind].__name__}")
                except Exception as e:
                    self._fail(info, e)
                    continue
                for spec in items:
                    specs[kind][spec.name] = spec
                    info.names.setdefault(kind, []).append(spec.name)
        self._specs = specs
        return specs

    def names(self, kind: str) -> list[str]:
        """Registered names of one kind (``dataset``, ``encoder``, ...), sorted."""
        if kind not in KIND_HOOKS:
            raise unknown_name("kind", kind, KIND_HOOKS)
        return sorted(self._collect()[kind])

    def specs(self, kind: str) -> list:
        """Registered specs of one kind in registration order (built-ins first, then plugins)."""
        if kind not in KIND_HOOKS:
            raise unknown_name("kind", kind, KIND_HOOKS)
        return list(self._collect()[kind].values())

    def get(self, kind: str, name: str):
        """The spec registered under ``name``; a short name is accepted when unambiguous."""
        table = self._collect()[kind]
        if name in table:
            return table[name]
        matches = [n for n in table if n.split("/", 1)[-1] == name]
        if len(matches) == 1:
            return table[matches[0]]
        raise unknown_name(kind, name, table)

    def recipe_for_plugin(self, plugin: str):
        """The default recipe of a plugin (``<plugin>/default``)."""
        if plugin not in self.infos:
            raise unknown_name("plugin", plugin, self.infos)
        info = self.infos[plugin]
        if info.error:
            raise UserError(f"plugin '{plugin}' failed to load ({info.error}); "
                            f"reinstall it (`pip install -e plugins/{plugin}`) or fix the error")
        return self.get("recipe", f"{plugin}/default")

    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen, loaded or broken, with hooks and registered names."""
        self._collect()
        return sorted(self.infos.values(), key=lambda i: (i.name != "core", i.name))

    def hook(self):
        return self.pm.hook

    def add_commands(self, subparsers) -> list[str]:
        """Let core and the plugins add ``core`` subcommands (hook ``core_cli``); returns warnings.

        Core's own commands come first and must register (an error there is raised). Then each
        plugin's hook in load order: one that raises is skipped with a warning so that the CLI
        keeps working (a :class:`~core.errors.UserError` it raises propagates as usual).
        """
        impls = self.pm.hook.core_cli.get_hookimpls()
        warnings = []
        for impl in sorted(impls, key=lambda i: i.plugin_name not in self._owner):
            args = [{"subparsers": subparsers}[a] for a in impl.argnames]
            if impl.plugin_name in self._owner:
                impl.function(*args)
                continue
            try:
                impl.function(*args)
            except UserError:
                raise
            except Exception as e:  # a plugin's CLI hook must not break the host
                warnings.append(f"plugin '{impl.plugin_name}': core_cli hook failed: {type(e).__name__}: {e}")
        return warnings


_default: Optional[PluginManager] = None


def get_plugin_manager(refresh: bool = False) -> PluginManager:
    """The process-wide plugin manager (entry points loaded once)."""
    global _default
    if _default is None or refresh:
        _default = PluginManager()
    return _default
