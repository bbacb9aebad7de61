"""mkdocs hooks: generated pages, so nothing below is hand-typed.

* ``cli.md``: the marker ``<!-- cli-reference -->`` is replaced by a reference generated from
  ``core.cli.build_parser()`` (core's own commands; plugins' ``core_cli`` commands are left to
  their pages).
* ``plugins/<name>.md``: one page per ``plugins/<name>/README.md`` of the repository, added to
  the nav under "Plugins"; links that leave the docs are rewritten (the repository README
  becomes the home page) or reduced to their text.
"""
from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CLI_MARKER = "<!-- cli-reference -->"
LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


# --------------------------------------------------------------------------- CLI reference
def _core_parser() -> argparse.ArgumentParser:
    """``core``'s parser with every entry-point plugin blocked (core's commands only)."""
    from importlib.metadata import entry_points

    from core import plugins
    from core.cli import build_parser

    saved_env, saved_pm = os.environ.get("CORE_DISABLE_PLUGINS"), plugins._default
    os.environ["CORE_DISABLE_PLUGINS"] = ",".join(ep.name for ep in entry_points(group="core"))
    try:
        plugins._default = None
        return build_parser()
    finally:
        plugins._default = saved_pm
        if saved_env is None:
            os.environ.pop("CORE_DISABLE_PLUGINS", None)
        else:
            os.environ["CORE_DISABLE_PLUGINS"] = saved_env


def _flags(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest.upper()}`"
    value = ""
    if action.nargs != 0:
        if action.choices:
            value = " {" + ",".join(map(str, action.choices)) + "}"
        else:
            value = " " + (action.metavar if isinstance(action.metavar, str) else action.dest.upper())
    return ", ".join(f"`{o}{value}`" for o in action.option_strings)


def _options_table(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        default = action.default
        shown = "" if default in (None, False, argparse.SUPPRESS) or action.nargs == 0 else f"`{default}`"
        if isinstance(default, list) and not default:
            shown = ""
        text = (action.help or "").replace("|", "\\|")
        if action.choices and not action.option_strings:
            text = (text + " " if text else "") + "one of " + ", ".join(f"`{c}`" for c in action.choices)
        if action.nargs in ("+", "*"):
            text += " (one or more)"
        elif isinstance(action, argparse._AppendAction) and "repeatable" not in text:
            text += " (repeatable)"
        rows.append(f"| {_flags(action)} | {shown} | {text.strip()} |")
    if not rows:
        return []
    return ["| argument | default | meaning |", "|---|---|---|"] + rows


def cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """Markdown for every subcommand of ``parser`` (default: core's own): usage + arguments."""
    parser = parser or _core_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    out = ["Generated from `core.cli.build_parser()` when the docs are built.", "",
           "### Global options", ""] + _options_table(parser) + [""]
    for name, sp in sub.choices.items():
        usage = " ".join(sp.format_usage().split())
        out += [f"### core {name}", "", helps.get(name, "").rstrip(".") + ".", "", "```text",
                usage.replace("usage: ", ""), "```", ""]
        out += _options_table(sp) + [""]
    return "\n".join(out)


# --------------------------------------------------------------------------- plugin pages
def plugin_readmes() -> dict[str, Path]:
    return {p.parent.name: p for p in sorted((REPO / "plugins").glob("*/README.md"))}


def rewrite_links(text: str, readme: Path) -> str:
    """Keep web links and anchors; point the repo README at the home page; other relative
    links (source files, data) become their plain text, since they are not docs pages."""

    def fix(m: re.Match) -> str:
        label, target = m.group(1), m.group(2)
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return m.group(0)
        path = (readme.parent / target.split("#")[0]).resolve()
        if path == REPO / "README.md":
            return f"[{label}](../index.md)"
        if path.is_relative_to(REPO / "docs") and path.suffix == ".md":
            return f"[{label}](../{path.relative_to(REPO / 'docs').as_posix()})"
        return label

    return LINK.sub(fix, text)


# --------------------------------------------------------------------------- mkdocs events
def on_config(config, **kwargs):
    pages = [{name: f"plugins/{name}.md"} for name in plugin_readmes()]
    nav = config.get("nav")
    if nav is not None and pages:
        titles = [next(iter(item)) if isinstance(item, dict) else item for item in nav]
        at = titles.index("Benchmarks") if "Benchmarks" in titles else len(nav)
        nav.insert(at, {"Plugins": pages})
    return config


def on_files(files, config, **kwargs):
    from mkdocs.structure.files import File

    for name, readme in plugin_readmes().items():
        files.append(File.generated(config, f"plugins/{name}.md", content=rewrite_links(readme.read_text(), readme)))
    return files


def on_page_markdown(markdown, page, config, files, **kwargs):
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    return markdown
