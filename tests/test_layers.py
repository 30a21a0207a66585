"""Imports run one way: tools <- policy <- store <- reasoners <- graph <- sdk <- cli, with evals on top.

Read from the source with ``ast`` (every import statement, including those inside functions and under
``TYPE_CHECKING``: a lazy import is still a dependency). Each module of ``agent``, ``tools`` and ``evals`` belongs
to exactly one layer and may import only from its own layer or those below. A new module must be given a layer
here, which is the moment to ask where it belongs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("tools", "agent", "evals")

# (layer, module prefixes), lowest first. A module belongs to the layer of its longest matching prefix.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("tools", ("tools",)),  # the ground floor: images, face engine, weights; knows nothing of agents
    # what every agent layer shares: one error hierarchy, one clock, one settings object, logging, the image vault
    (
        "agent-base",
        ("agent.errors", "agent.clock", "agent.settings", "agent.logging", "agent.images_vault", "agent.lazy"),
    ),
    ("policy", ("agent.policy",)),  # pure: rules, catalogues, decide(); no store, no engine
    ("store", ("agent.store", "agent.consent", "agent.subjects", "agent.enrollment", "agent.capture", "agent.apikeys")),
    ("messages", ("agent.graph.messages",)),  # what reasoners and the graph share; imports nothing of the graph
    ("reasoners", ("agent.reasoners",)),
    ("graph", ("agent.graph",)),
    ("sdk", ("agent", "agent.sdk", "agent.render", "agent.demo")),
    ("server", ("agent.server",)),  # LangGraph's server: the graph factory, the API-key hook, the launcher
    ("mcp", ("agent.mcp",)),  # the MCP server: the gate for an MCP host; the CLI starts it
    ("cli", ("agent.cli",)),
    ("evals", ("evals",)),
]
RANK = {name: i for i, (name, _) in enumerate(LAYERS)}


def layer_of(module: str) -> str | None:
    best: tuple[int, str] | None = None
    for name, prefixes in LAYERS:
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), name)
    return best[1] if best else None


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports_of(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            out.append((node.lineno, base))
            # `from agent.graph import messages` imports the module agent.graph.messages
            out.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names if f"{base}.{alias.name}" in ALL)
    return out


ALL = modules()


def test_every_module_has_a_layer() -> None:
    assert [m for m in ALL if layer_of(m) is None] == []


@pytest.mark.parametrize("module", sorted(ALL))
def test_imports_run_one_way(module: str) -> None:
    mine = layer_of(module)
    assert mine is not None
    upward = []
    for line, imported in imports_of(module, ALL[module]):
        theirs = layer_of(imported)
        if theirs is not None and RANK[theirs] > RANK[mine]:
            upward.append(f"{ALL[module].relative_to(ROOT)}:{line} imports {imported} ({mine} -> {theirs})")
    assert upward == []


def test_tools_import_nothing_of_agent_or_evals_and_agent_nothing_of_evals() -> None:
    banned = {"tools": ("agent", "evals"), "agent": ("evals",)}
    found = [
        f"{module} imports {imported}"
        for module, path in ALL.items()
        for line, imported in imports_of(module, path)
        for bad in banned.get(module.split(".")[0], ())
        if imported == bad or imported.startswith(bad + ".")
    ]
    assert found == []


def test_the_checker_sees_a_planted_upward_import(tmp_path: Path) -> None:
    """The test above is only worth something if it can fail: a policy module importing the store is caught."""
    planted = tmp_path / "decide.py"
    planted.write_text("def f():\n    from agent.store import Store\n    from agent.graph.gate import ToolGate\n")
    found = [imported for _, imported in imports_of("agent.policy.decide", planted)]
    assert found == ["agent.store", "agent.graph.gate"]
    assert all(RANK[layer_of(m) or ""] > RANK["policy"] for m in found)
