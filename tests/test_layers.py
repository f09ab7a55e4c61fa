"""The layering of docs/architecture.md, checked on every module's imports (function-local ones too)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# folder -> the folders of ours it may import (besides itself); "models" is data, readable by all.
ALLOWED: dict[str, set[str]] = {
    "runtime": {"models"},
    "synth": {"runtime", "models"},
    "calibration": {"runtime", "models"},
    "archive": {"runtime", "models"},
    "training": {"runtime", "models"},
    "export": {"training", "calibration", "runtime", "models"},
    "nima_edge": {"runtime", "synth", "calibration", "archive", "training", "export", "models"},
}
TENSORFLOW = {"tensorflow", "keras", "tf_keras", "tensorflow_model_optimization"}
TF_FREE = {"runtime", "synth", "calibration", "archive"}
# (module, function) -> why its TensorFlow import stays inside the function; everything else
# imports TensorFlow at the top of the module that needs it (docs/architecture.md).
LOCAL_TENSORFLOW_ALLOWED = {
    ("training/model.py", "imagenet_weights_path"):
        "probes a private Keras module, with an ImportError fallback for Keras versions without it",
}
IMPORT_NAME = {"nima_edge": "nima_edge", **{f: f for f in ALLOWED if f != "nima_edge"}}


def _imports(path: Path, folder: str) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, relative ones resolved within the folder."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((node.lineno, f"nima_edge.{folder}" if folder != "nima_edge" else "nima_edge"))
            elif node.module == "nima_edge":  # from nima_edge import calibration
                found += [(node.lineno, f"nima_edge.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module or ""))
    return found


def _function_local_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, enclosing function's dotted name, module) of every import inside a function."""
    found = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(child, f"{function}.{child.name}" if function else child.name)
                continue
            if function and isinstance(child, ast.Import):
                found.extend((child.lineno, function, alias.name) for alias in child.names)
            elif function and isinstance(child, ast.ImportFrom) and not child.level:
                found.append((child.lineno, function, child.module or ""))
            visit(child, function)

    visit(ast.parse(path.read_text(), str(path)), None)
    return found


def _modules():
    for folder in ALLOWED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield folder, path


def _ours(module: str) -> str | None:
    """The folder of ours a module lives in, or None for a third-party module."""
    parts = module.split(".")
    if parts[0] != "nima_edge":
        return None
    if len(parts) == 1 or parts[1] in ("cli", "clitools"):
        return "nima_edge"
    return parts[1]


def test_every_import_follows_the_layers():
    wrong = []
    for folder, path in _modules():
        for line, module in _imports(path, folder):
            target = _ours(module)
            if target is not None and target != folder and target not in ALLOWED[folder]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module} ({folder} may not import {target})")
    assert wrong == []


def test_tensorflow_only_in_training_and_export():
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {module}"
             for folder, path in _modules() if folder in TF_FREE
             for line, module in _imports(path, folder) if module.split(".")[0] in TENSORFLOW]
    assert wrong == []


def test_tensorflow_imported_at_the_top_of_training_and_export_modules():
    """A function-local TensorFlow import hides which modules need TensorFlow; laziness belongs to
    the caller (tests/conftest.py's cache lookup, bench_worker picking bench_keras)."""
    wrong = [f"{path.relative_to(ROOT)}:{line} {function}() imports {module}"
             for folder, path in _modules() if folder in ("training", "export")
             for line, function, module in _function_local_imports(path)
             if module.split(".")[0] in TENSORFLOW
             and (path.relative_to(ROOT).as_posix(), function) not in LOCAL_TENSORFLOW_ALLOWED]
    assert wrong == []


def test_every_allowed_local_tensorflow_import_still_exists():
    """The allowlist stays as short as the code needs: an entry whose import moved goes too."""
    present = {(path.relative_to(ROOT).as_posix(), function)
               for folder, path in _modules() if folder in ("training", "export")
               for _, function, module in _function_local_imports(path) if module.split(".")[0] in TENSORFLOW}
    assert set(LOCAL_TENSORFLOW_ALLOWED) - present == set()


def test_click_only_in_the_cli():
    wrong = [f"{path.relative_to(ROOT)}:{line} imports click"
             for folder, path in _modules() if folder != "nima_edge"
             for line, module in _imports(path, folder) if module.split(".")[0] == "click"]
    assert wrong == []


def test_the_check_sees_a_violation(tmp_path):
    """The walk is not vacuous: a function-local import of the CLI inside runtime/ is an edge."""
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from nima_edge.cli import common\n    import tensorflow as tf\n")
    modules = [module for _, module in _imports(probe, "runtime")]
    assert _ours(modules[0]) == "nima_edge" and "nima_edge" not in ALLOWED["runtime"]
    assert modules[1].split(".")[0] in TENSORFLOW


def test_the_local_import_check_sees_a_nested_function(tmp_path):
    """Only imports inside a function count, and a nested one is named by its enclosing functions."""
    probe = tmp_path / "probe.py"
    probe.write_text("import tensorflow\n\nclass A:\n    def f(self):\n        def g():\n"
                     "            from keras import layers\n")
    assert _function_local_imports(probe) == [(6, "f.g", "keras")]
