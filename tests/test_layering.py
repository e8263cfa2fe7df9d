"""Arrows point down: the command line sits on the library, never under it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(*folders: str):
    for folder in folders:
        yield from sorted((ROOT / folder).rglob("*.py"))


CLI = {ROOT / "robolearn" / "__main__.py", *(ROOT / "robolearn" / "cli").rglob("*.py")}


@pytest.mark.parametrize("rule, folders, forbidden, allowed", [
    ("only the CLI and `python -m robolearn` import robolearn.cli", ("robolearn", "sim", "drivers", "bench"),
     "robolearn.cli", CLI),
    ("the library (its CLI included) never imports the ROS package", ("robolearn", "sim"), "robolearn_drivers",
     set()),
])
def test_no_module_imports_upwards(rule, folders, forbidden, allowed):
    offenders = [str(path.relative_to(ROOT)) for path in _modules(*folders) if path not in allowed
                 and any(name == forbidden or name.startswith(forbidden + ".") for name in _imports(path))]
    assert not offenders, f"{rule}: {offenders}"
