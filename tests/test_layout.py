"""The package layout (issue 29): folders that show the layers, no import circle, the public names where they were.

Reads the source with ``ast`` (nothing is imported for the graph), so a function-level import counts as an edge
as much as a module-level one: a circle through a lazy import is still a circle.
"""

import ast
import importlib
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "keras_gan")
FOLDERS = {"analysis", "bench", "commands", "data", "evaluation", "export", "kernels", "models", "networks",
           "training"}
TOP_MODULES = {"__init__", "augment", "backends", "cli", "config", "divergences", "errors", "files", "losses",
               "optimizers"}


def _modules():
    """``{dotted name: path}`` of every module in the package."""
    out = {}
    for directory, _, files in os.walk(PACKAGE):
        if "__pycache__" in directory:
            continue
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(directory, f), ROOT)[:-3].replace(os.sep, ".")
                out[rel[: -len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(directory, f)
    return out


def _imports(path, name, modules):
    """The package modules that module ``name`` imports (any level; ``from a import b`` counts b if a module)."""
    tree = ast.parse(open(path).read())
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for t in targets:
            while t and t not in modules:
                t = t.rpartition(".")[0]
            if t and t != name and not name.startswith(t + "."):  # a module's own package is not an edge
                found.add(t)
    return found


def _graph():
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def test_the_top_holds_folders_and_a_handful_of_modules():
    entries = os.listdir(PACKAGE)
    folders = {e for e in entries if os.path.isdir(os.path.join(PACKAGE, e)) and e != "__pycache__"}
    modules = {e[:-3] for e in entries if e.endswith(".py")}
    assert folders == FOLDERS
    assert modules == TOP_MODULES
    for folder in folders:
        assert os.path.exists(os.path.join(PACKAGE, folder, "__init__.py")), folder


def test_no_import_circle():
    graph = _graph()
    # Tarjan-free: a depth-first search that reports the first back edge it meets, with its path
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                circle = visit(nxt)
                if circle:
                    return circle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            circle = visit(node)
            assert circle is None, " -> ".join(circle)


def test_the_circle_check_can_fail(tmp_path, monkeypatch):
    """The check above on a made-up two-module circle finds it."""
    (tmp_path / "a.py").write_text("from keras_gan import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from keras_gan import a\n")
    modules = {"keras_gan.a": str(tmp_path / "a.py"), "keras_gan.b": str(tmp_path / "b.py")}
    graph = {n: _imports(p, n, modules) for n, p in modules.items()}
    assert graph == {"keras_gan.a": {"keras_gan.b"}, "keras_gan.b": {"keras_gan.a"}}


# Layers, lowest first: a module of a layer imports only from its own layer and the ones below it.
LAYERS = [
    {"errors", "files", "config", "losses", "optimizers", "divergences", "augment", "backends"},
    {"kernels"},
    {"data"},
    {"networks"},
    {"models"},
    {"evaluation"},
    {"training"},
    {"export"},
    {"analysis"},
    {"bench", "commands", "cli"},
]


def _layer(name):
    part = name.split(".")[1] if "." in name else None
    for i, layer in enumerate(LAYERS):
        if part in layer:
            return i
    return None


def test_each_layer_imports_only_layers_below_it():
    wrong = []
    for name, targets in _graph().items():
        mine = _layer(name)
        if mine is None:
            continue
        wrong += [f"{name} -> {t}" for t in targets if _layer(t) is not None and _layer(t) > mine]
    assert not wrong, wrong


# Every dotted keras_gan name that the README and docs use, and the names users imported before the layout
PUBLIC = ["keras_gan.models.DCGAN", "keras_gan.models.AdversarialModel", "keras_gan.models.draw_latent",
          "keras_gan.data.load", "keras_gan.data.load_arrays", "keras_gan.data.training_dataset",
          "keras_gan.export.export_saved_model", "keras_gan.export.export_onnx", "keras_gan.export.onnx_session",
          "keras_gan.export.sample_exported", "keras_gan.export.check_parity", "keras_gan.export.read_metadata",
          "keras_gan.metrics.evaluate", "keras_gan.metrics.mode_metrics", "keras_gan.runs.load_run",
          "keras_gan.runs.atomic_path", "keras_gan.runs.write_json", "keras_gan.vae_analysis.run",
          "keras_gan.networks.FastConv2D", "keras_gan.networks.FusedBatchNormalization",
          "keras_gan.callbacks.StepWatchdog", "keras_gan.checkpointing.EXIT_INTERRUPTED",
          "keras_gan.images.grid", "keras_gan.features.EXTRACTORS", "keras_gan.trainer",
          "keras_gan.image_folder", "keras_gan.optimizers.FusedAdam", "keras_gan.losses",
          "keras_gan.divergences.DivergenceTracker", "keras_gan.analysis", "keras_gan.vae"]


def _docs_names():
    names = set()
    for path in [os.path.join(ROOT, "README.md")] + [os.path.join(ROOT, "docs", f)
                                                      for f in os.listdir(os.path.join(ROOT, "docs"))
                                                      if f.endswith(".md")]:
        names |= set(re.findall(r"keras_gan(?:\.[A-Za-z_][A-Za-z0-9_]*)+", open(path).read()))
    return names


def _resolve(dotted):
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


@pytest.mark.parametrize("dotted", sorted(set(PUBLIC) | _docs_names()))
def test_public_names_import(dotted):
    assert _resolve(dotted) is not None


def test_old_module_names_are_the_moved_modules():
    import keras_gan

    for old, new in keras_gan.MOVED.items():
        assert importlib.import_module(f"keras_gan.{old}") is importlib.import_module(f"keras_gan.{new}"), old


def test_readme_layout_names_every_folder():
    text = open(os.path.join(ROOT, "README.md")).read()
    layout = text[text.index("## Layout"):]
    layout = layout[: layout.index("\n## ", 5)] if "\n## " in layout[5:] else layout
    for folder in FOLDERS:  # a line of the tree under keras_gan/
        assert re.search(rf"^  (\S+ )*{folder}/", layout, re.M), folder
