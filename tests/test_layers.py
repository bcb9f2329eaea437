"""The package's layers, held by walking every import (at the top or inside a function: a lazy import still runs).

The table is the one docs/architecture.md states: a module imports only from layers below its own, or from its own
unit (a top-level module or package of datafactory); units of one layer import each other only where the layer
allows it. Because every direct import points down, so does every transitive one.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "datafactory"

# bottom to top: (name, units, whether units of the layer may import each other)
LAYERS = [
    ("foundation", {"datafactory", "errors", "registry", "options", "typed_options", "seeds", "reasons",
                    "interrupts", "memory", "engine_logs", "progress", "worker_processes", "shapes", "trace",
                    "prompts", "percentiles"}, True),
    ("io", {"io"}, True),
    ("engines, verifiers, rules", {"engines", "verifiers", "rules"}, False),
    ("judge", {"judge"}, True),
    ("checks", {"checks"}, True),
    ("stage contract", {"stages"}, True),
    ("stages", {"generate", "filtering", "dedupe", "mix"}, False),
    ("frame", {"frame", "scale"}, True),
    ("read side", {"stats", "report"}, True),
    ("recipes and tools", {"recipes", "runner", "rerun", "preflight", "toy"}, True),
    ("cli", {"cli", "__main__"}, True),
]  # fmt: skip
LAYER = {unit: (rank, peers) for rank, (_, units, peers) in enumerate(LAYERS) for unit in units}


def _imports(root: Path) -> dict[str, set[str]]:
    """Every datafactory module's datafactory imports, at the top or inside a function (a lazy import still runs)."""
    graph = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m.startswith("datafactory")}
    return graph


def _reached(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        for target in graph.get(module, ()):
            if target in graph and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_no_stage_reaches_ray_or_the_verifier_pool_through_the_contract():
    """The executor is chosen by the frame (frame.py, scale/executor.py) and handed to the stage: no module below
    the frame reaches scale/ (Ray), transitively through any import, and the contract, the report and stats do
    not reach the filter's worker pool."""
    graph = _imports(Path(__file__).resolve().parent.parent / "datafactory")
    above = {"datafactory.__main__", "datafactory.frame", "datafactory.runner", "datafactory.recipes"}
    below = [m for m in graph if m not in above and not m.startswith(("datafactory.cli", "datafactory.scale"))]
    assert "datafactory.filtering.stage" in below and "datafactory.generate.stage" in below
    offenders = {m: sorted(r for r in _reached(graph, m) if r.startswith("datafactory.scale")) for m in below}
    assert {m: r for m, r in offenders.items() if r} == {}
    for module in ("datafactory.stages", "datafactory.report.collect", "datafactory.stats"):
        assert "datafactory.checks.pool" not in _reached(graph, module), module
    assert "datafactory.scale.executor" in _reached(graph, "datafactory.frame")  # the test sees what it guards


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _against(graph: dict[str, set[str]]) -> list[str]:
    """Every import that points up the layers, or sideways between units a layer keeps apart."""
    against = []
    for module, targets in graph.items():
        rank, peers = LAYER[_unit(module)]
        for target in targets:
            if target not in graph or _unit(target) == _unit(module):
                continue
            other, _ = LAYER[_unit(target)]
            if other > rank or (other == rank and not peers):
                against.append(f"{module} -> {target}")
    return sorted(against)


def test_every_import_points_down_the_stated_layers():
    graph = _imports(PACKAGE)
    assert {_unit(m) for m in graph} <= set(LAYER), "a unit no layer names: add it to LAYERS and the docs"
    assert _against(graph) == []
    assert len(graph) > 90  # the walk sees the package


def test_the_layer_check_finds_imports_up_sideways_and_through_the_contract():
    """What the check above would have found in the tree before the split (and would find again)."""
    graph = _imports(PACKAGE)
    for module, target in [
        ("datafactory.checks.options", "datafactory.filtering.stage"),  # up: shared checks reaching a stage
        ("datafactory.generate.stage", "datafactory.filtering.inputs"),  # sideways between stages
        ("datafactory.stages", "datafactory.scale.executor"),  # the contract reaching Ray
        ("datafactory.mix.card", "datafactory.stats"),  # a stage reaching the read side
        ("datafactory.verifiers.code", "datafactory.engines.base"),  # verifiers and engines stay apart
    ]:
        changed = {**graph, module: graph[module] | {target}}
        assert _against(changed) == [f"{module} -> {target}"]


def test_generate_and_filter_reach_each_other_in_neither_direction():
    graph = _imports(PACKAGE)
    generate = [m for m in graph if m.startswith("datafactory.generate")]
    filtering = [m for m in graph if m.startswith("datafactory.filtering")]
    assert generate and filtering
    for module in generate:
        assert not any(r.startswith("datafactory.filtering") for r in _reached(graph, module)), module
    for module in filtering:
        assert not any(r.startswith("datafactory.generate") for r in _reached(graph, module)), module
