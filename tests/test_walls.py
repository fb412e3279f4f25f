"""The walls DESIGN.md sets between packages, checked on every import statement.

edi/x12 is a library: it may import the standard library and itself, nothing else (an
allow-list, so a new dependency of any kind is caught). The other walls name what a package
must not import.
"""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

X12 = "edi.x12"

WALLS = [
    # (package, forbidden import prefixes, why)
    ("sandbox", ("connector", "edi", "billing", "tenants"), "a simulator must not share our client's code"),
    ("connector", ("edi", "billing", "console"), "flows and the console plug into the engine, never the reverse"),
    ("tenants", ("edi", "billing"), "tenants know no flow"),
    ("edi", ("billing",), "edi and billing never import each other"),
    ("billing", ("edi",), "edi and billing never import each other"),
    ("console", ("edi", "billing", "sandbox"), "the console reads the engine and tenants, never a flow's code"),
]


def imports_of(path: Path, package: str) -> list[str]:
    """Every module `path` (a module of `package`) imports, relative imports made absolute."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                names.append(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.append(node.module)
    return names


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])


def python_files(package: str) -> list[Path]:
    files = [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    assert files, f"{package} has no Python files"
    return files


def outside_x12_allow_list(name: str) -> bool:
    """True for an import edi.x12 may not make: neither the standard library nor itself."""
    return not (name.split(".")[0] in sys.stdlib_module_names or name == X12 or name.startswith(X12 + "."))


@pytest.mark.parametrize(("package", "forbidden", "why"), WALLS, ids=[w[0] for w in WALLS])
def test_no_import_crosses_a_wall(package, forbidden, why):
    offenders = []
    for path in python_files(package):
        for name in imports_of(path, package_of(path)):
            if package == "edi" and name.startswith(X12):
                continue
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, f"{why}:\n" + "\n".join(offenders)


def test_edi_x12_imports_only_the_standard_library_and_itself():
    offenders = [f"{path.relative_to(ROOT)} imports {name}"
                 for path in python_files("edi/x12") for name in imports_of(path, package_of(path))
                 if outside_x12_allow_list(name)]
    assert not offenders, "edi.x12 is a library (standard library and itself only):\n" + "\n".join(offenders)


def test_the_x12_allow_list_catches_what_a_deny_list_would_miss(tmp_path):
    module = tmp_path / "sample.py"
    module.write_text("import decimal, re\nfrom collections.abc import Iterator\nfrom . import model\n"
                      "from .errors import Problem\nfrom edi.x12.reader import Source\n"
                      "import attr\nfrom lxml import etree\nfrom .. import cleo\nimport edi.inbox\nfrom edi import models\n")
    flagged = [name for name in imports_of(module, "edi.x12") if outside_x12_allow_list(name)]
    assert flagged == ["attr", "lxml", "edi", "edi.inbox", "edi"]
