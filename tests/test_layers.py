"""The layers: core < data < training < ui (< cli), Textual only under ui, torch never in
the app's process, and no import cycles, deferred imports included."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rnn_tui"
LAYERS = ("core", "data", "training", "ui")  # each imports only from itself and those before it
SHARED = ("rnn_tui", "rnn_tui.errors")  # the version and UserError: for every layer
TUI = ("textual", "textual_serve")  # the terminal UI and the web page that serves it


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # a submodule, or a name
    return found


GRAPH = {module_name(path): imports(path) for path in PACKAGE.rglob("*.py")}
OURS = set(GRAPH)


def ours(names: set[str]) -> set[str]:
    return {name for name in names if name in OURS}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def closure(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += ours(GRAPH[name])
        if "." in name and name.rsplit(".", 1)[0] in OURS:  # importing a module runs its package
            todo.append(name.rsplit(".", 1)[0])
    return seen


def test_each_layer_imports_only_from_below():
    wrong = []
    for module, names in GRAPH.items():
        mine = layer(module)
        if mine is None:
            continue
        allowed = LAYERS[: LAYERS.index(mine) + 1]
        for name in ours(names):
            if name not in SHARED and layer(name) not in allowed:
                wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_textual_only_under_ui_and_torch_never_there():
    for module, names in GRAPH.items():
        tui = {n for n in names if n.split(".")[0] in TUI}
        assert not tui or layer(module) == "ui", f"{module} imports {sorted(tui)}"
    for module in (m for m in GRAPH if layer(m) == "ui"):
        reached = closure(module)
        torch = sorted(m for m in reached if any(n.split(".")[0] == "torch" for n in GRAPH[m]))
        assert torch == [], f"{module} reaches torch through {torch}"
        assert not any(layer(m) == "data" for m in reached), f"{module} reaches the data layer"


def test_no_import_cycles():
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        for name in sorted(ours(GRAPH[module]) - {module}):  # a package naming its own submodules is none
            if name in path:
                return path[path.index(name):] + [name]
            if name not in done:
                found = visit(name, path + [name])
                if found:
                    return found
        done.add(module)
        return None

    for module in sorted(GRAPH):
        cycle = visit(module, [module])
        assert cycle is None, " -> ".join(cycle)


def test_the_layer_test_catches_torch_under_ui(tmp_path, monkeypatch):
    """The rule above would fail if someone imported torch in a ui module."""
    monkeypatch.setitem(GRAPH, "rnn_tui.ui.labels", GRAPH["rnn_tui.ui.labels"] | {"torch"})
    with pytest.raises(AssertionError, match="reaches torch"):
        test_textual_only_under_ui_and_torch_never_there()


APP_WITH_A_REAL_TRAINER = textwrap.dedent("""
    import asyncio, sys
    from rnn_tui.cli import build_parser
    from rnn_tui.training.client import TrainerClient
    from rnn_tui.ui.app import RnnTuiApp

    async def main():
        args = build_parser(None).parse_args(["--scenario", "adding", "--seq-len", "10", "--hidden", "8"])
        app = RnnTuiApp(TrainerClient, {"options": args}, runs_dir=None, save_on_quit=False)
        async with app.run_test(size=(100, 30)) as pilot:
            for _ in range(600):
                await pilot.pause(0.05)
                if app.main.trace is not None:
                    break
            await pilot.press("right")
            shown = app.main.trace is not None and app.main.step == 1
        app.client.close()
        maps = open("/proc/self/maps").read() if sys.platform == "linux" else ""
        print(shown, "torch" in sys.modules, "libtorch" in maps, "rnn_tui.data.base" in sys.modules)

    asyncio.run(main())
""")


def test_the_apps_process_never_loads_torch_or_data():
    out = subprocess.run([sys.executable, "-c", APP_WITH_A_REAL_TRAINER], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.stdout.split() == ["True", "False", "False", "False"], out.stdout + out.stderr[-2000:]
