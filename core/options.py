"""Reader options: the one checked parser behind every dataset's ``--flag VALUE`` / ``--option key=value``.

A dataset declares its options as a frozen dataclass and, for each field that is not plain
text, a *rule*: ``integer(low)``, ``number(low, high)``, ``choice(*values)``, ``boolean()``,
``items()`` or ``regex()``. :func:`parse_options` rejects unknown names (listing the known ones),
leaves out unset values (``None`` or ``""``), converts each value by its rule (stripped text
by default) and raises a :class:`~core.errors.UserError` that names the option and shows a
valid value. Values may be strings from the command line or typed values from a config file.
Checks across options (e.g. ``val_fraction + test_fraction < 1``) stay with the dataset.

On the command line, :func:`key_values` reads ``--option KEY=VALUE`` (and ``--set``) pairs and
:func:`reader_flags` turns flags the core does not know (``--smiles-col smi``) into such options.
"""
from __future__ import annotations

import re
from dataclasses import fields
from typing import Any, Callable, Mapping, Optional, Sequence

from core.errors import UserError

Rule = Callable[[str, Any], Any]
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag(key: str) -> str:
    """The command-line spelling of option ``key``: ``split_seed`` -> ``--split-seed``."""
    return "--" + key.replace("_", "-")


def _bounds(key, value, out, low, high, low_open, high_open) -> None:
    below = low is not None and (out <= low if low_open else out < low)
    above = high is not None and (out >= high if high_open else out > high)
    if below or above:
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        span = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise UserError(f"option {key}={value!r} must be in {span}")


def integer(low: Optional[int] = None, high: Optional[int] = None) -> Rule:
    """A whole number in ``[low, high]`` (``"64"``, ``64`` and ``"64.0"`` are accepted)."""

    def parse(key, value):
        try:
            out = int(float(value))
            if float(value) != out:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            example = max(low if low is not None else 1, 1)
            raise UserError(f"option {key}={value!r} is not an integer; pass e.g. {flag(key)} {example}") from None
        _bounds(key, value, out, low, high, False, False)
        return out

    return parse


def number(low: Optional[float] = None, high: Optional[float] = None, *, low_open: bool = False,
           high_open: bool = False) -> Rule:
    """A real number between ``low`` and ``high`` (each bound closed unless ``*_open``)."""

    def parse(key, value):
        try:
            out = float(value)
        except (TypeError, ValueError):
            example = 0.1 if high is not None and high <= 1 else max(low or 0, 1)
            raise UserError(f"option {key}={value!r} is not a number; pass e.g. {flag(key)} {example}") from None
        if out != out:
            raise UserError(f"option {key}={value!r} is not a number")
        _bounds(key, value, out, low, high, low_open, high_open)
        return out

    return parse


def fraction() -> Rule:
    """A share of the data in ``[0, 1)`` (``val_fraction``, ``test_fraction``)."""
    return number(0.0, 1.0, high_open=True)


def choice(*values: str) -> Rule:
    """One of ``values`` (compared as text)."""

    def parse(key, value):
        if str(value) not in values:
            raise UserError(f"option {key}={value!r} must be one of {', '.join(values)}")
        return str(value)

    return parse


def boolean() -> Rule:
    """``true/false``, ``yes/no``, ``on/off`` or ``1/0`` (any case), or a bool."""

    def parse(key, value):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE or text in FALSE:
            return text in TRUE
        raise UserError(f"option {key}={value!r} must be true or false, e.g. {flag(key)} true")

    return parse


def items(example: str = "a,b") -> Rule:
    """A non-empty comma-separated list (or a list from a config file) -> tuple of stripped strings."""

    def parse(key, value):
        parts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
        out = tuple(p.strip() for p in parts if p.strip())
        if not out:
            raise UserError(f"option {key} is empty; pass e.g. {flag(key)} {example}")
        return out

    return parse


def regex() -> Rule:
    """A regular expression, checked to compile; kept as text."""

    def parse(key, value):
        try:
            re.compile(str(value))
        except re.error as e:
            raise UserError(f"option {key}={value!r} is not a regular expression ({e})") from None
        return str(value)

    return parse


def text(key, value) -> str:
    """The default rule: the value as stripped text."""
    return str(value).strip()


def parse_options(options: Optional[Mapping], cls, rules: Mapping[str, Rule], *, dataset: str,
                  allowed: Optional[tuple] = None, **fixed):
    """Check ``options`` against dataclass ``cls`` and return an instance of it.

    ``allowed``: the names this dataset takes (default: every field of ``cls``); ``rules``:
    a rule per non-text field; ``fixed``: values set by the caller, not by the user.
    """
    allowed = tuple(allowed if allowed is not None else (f.name for f in fields(cls)))
    options = dict(options or {})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise UserError(f"{dataset} has no option '{unknown[0]}'; it takes: {', '.join(allowed)}")
    out = {}
    for key, value in options.items():
        if value is None or (isinstance(value, str) and value == ""):
            continue
        out[key] = rules.get(key, text)(key, value)
    return cls(**{**out, **fixed})


# ----------------------------------------------------------------------------- command line
def key_values(pairs: Optional[Sequence[str]], flag: str) -> dict:
    """``["fs=100", "name=x"]`` -> ``{"fs": 100, "name": "x"}`` (values read as YAML scalars).

    ``flag`` (e.g. ``--option``) names the command-line flag in the error for a pair without ``=``.
    """
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise UserError(f"{flag} {pair!r}: expected KEY=VALUE, e.g. {flag} fs=100")
        key, value = pair.split("=", 1)
        import yaml

        out[key.strip()] = yaml.safe_load(value)
    return out


def reader_flags(tokens: Sequence[str]) -> dict:
    """Turn unknown ``--some-flag VALUE`` tokens into reader options (``some_flag: VALUE``).

    Plugins' readers take their own flags this way (``--smiles-col smiles``) without the core
    knowing them; readers reject options they do not know, naming them. A flag with no value
    (followed by another flag, or last) is ``true``.
    """
    import yaml

    out, i = {}, 0
    while i < len(tokens):
        token = tokens[i]
        if not token.startswith("--") or token == "--":
            raise UserError(f"unexpected argument {token!r}; reader options are --name VALUE or --option name=VALUE")
        key, sep, value = token[2:].partition("=")
        if not sep and (i + 1 >= len(tokens) or tokens[i + 1].startswith("--")):
            value = "true"
        elif not sep:
            i += 1
            value = tokens[i]
        out[key.replace("-", "_")] = yaml.safe_load(value)
        i += 1
    return out
