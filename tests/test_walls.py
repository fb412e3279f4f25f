"""The walls DESIGN.md sets between packages, checked on every import statement."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

WALLS = [
    # (package, forbidden import prefixes, why)
    ("edi/x12", ("django", "connector", "tenants", "billing", "sandbox", "edi.cleo", "edi.inbound", "edi.outbound",
                 "edi.models", "edi.inbox"), "edi.x12 is a library"),
    ("sandbox", ("connector", "edi", "billing", "tenants"), "a simulator must not share our client's code"),
    ("connector", ("edi", "billing", "console"), "flows and the console plug into the engine, never the reverse"),
    ("tenants", ("edi", "billing"), "tenants know no flow"),
    ("edi", ("billing",), "edi and billing never import each other"),
    ("billing", ("edi",), "edi and billing never import each other"),
    ("console", ("edi", "billing", "sandbox"), "the console reads the engine and tenants, never a flow's code"),
]


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.append(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.append(node.module)
    return names


@pytest.mark.parametrize(("package", "forbidden", "why"), WALLS, ids=[w[0] for w in WALLS])
def test_no_import_crosses_a_wall(package, forbidden, why):
    offenders = []
    files = [p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts]
    assert files, f"{package} has no Python files"
    for path in files:
        for name in imports_of(path):
            if package == "edi" and name.startswith("edi.x12"):
                continue
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not offenders, f"{why}:\n" + "\n".join(offenders)
