"""Imports point down the layers: base <- llm <- reward <- data <- top (eval, recipes, config, smoke, bench).

Every import in the package is read from the source (ast), including imports inside functions and
under ``TYPE_CHECKING``; relative imports are resolved.  Imports made from strings at run time
(``importlib.import_module``) are not seen.  A module may import its own layer and the ones below.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "finr1_verl"

# Lowest first.  A module belongs to the layer of its longest listed prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Leaf modules that import nothing from the package: prompt texts, exit codes, the table formatter.
    ("base", ("finr1_verl", "finr1_verl.prompts", "finr1_verl.exitcodes", "finr1_verl.table")),
    # The one OpenAI-compatible client.
    ("llm", ("finr1_verl.llm",)),
    # Format, extraction, rules, the answer judge, verl's compute_score.
    ("reward", ("finr1_verl.reward",)),
    # Sources, rows, prepare, distill, filter, the resumable-run skeleton.
    ("data", ("finr1_verl.data",)),
    # What runs the pipeline: evaluation, the recipes with their Hydra configs, the CPU smoke chain,
    # and the benchmarks outside the package.
    (
        "top",
        (
            "finr1_verl.eval",
            "finr1_verl.recipes",
            "finr1_verl.doctor",
            "finr1_verl.preflight",
            "finr1_verl.cost",
            "finr1_verl.config",
            "finr1_verl.smoke",
            "bench",
        ),
    ),
)

# Imports that point up today, each with why it is still there: (importer, imported module).
ALLOWED_UPWARD: dict[tuple[str, str], str] = {}


def layer_of(module: str) -> int:
    """The rank of the layer whose longest prefix matches ``module``."""
    best, rank = -1, -1
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank >= 0, f"{module} is in no layer: give it one in LAYERS"
    return rank


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    path = REPO / Path(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """Every project module ``path`` imports, wherever the import statement stands."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                found.add(f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base)
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def sources() -> list[Path]:
    return sorted([*(REPO / PACKAGE).rglob("*.py"), *(REPO / "bench").glob("*.py")])


def upward_imports() -> dict[tuple[str, str], str]:
    """(importer, imported) -> the two layers' names, for every import that points up."""
    found = {}
    for path in sources():
        importer = module_name(path)
        for imported in imported_modules(path):
            if layer_of(imported) > layer_of(importer):
                names = LAYERS[layer_of(importer)][0], LAYERS[layer_of(imported)][0]
                found[importer, imported] = f"{names[0]} imports {names[1]}"
    return found


def test_imports_point_down_the_layers():
    upward = upward_imports()
    unexpected = {pair: why for pair, why in upward.items() if pair not in ALLOWED_UPWARD}
    assert not unexpected, f"imports from a higher layer: {unexpected}"
    stale = set(ALLOWED_UPWARD) - set(upward)
    assert not stale, f"allowed upward imports that are gone (remove them from ALLOWED_UPWARD): {stale}"


def test_the_reader_sees_imports_in_functions_and_under_type_checking():
    report = imported_modules(REPO / PACKAGE / "eval" / "report.py")
    assert "finr1_verl.eval.runner" in report  # imported only under TYPE_CHECKING there
    assert "finr1_verl.data.distill" in imported_modules(REPO / "bench" / "bench_distill.py")  # in a function
    assert "finr1_verl.prompts" in imported_modules(
        REPO / PACKAGE / "reward" / "judge.py"
    )  # from pkg import mod
    assert layer_of("finr1_verl.reward.score") > layer_of("finr1_verl.llm.client") > layer_of("finr1_verl")
    assert layer_of("finr1_verl.eval.cli") > layer_of("finr1_verl.data.cli") > layer_of("finr1_verl.table")
