"""Rules and defaults have one home: checks that fail when a second copy appears."""
from __future__ import annotations

import re

import yaml

from tests.conftest import PROJECT_DIR

VAR_CALL = re.compile(r"""var\(\s*['"]([a-z_]+)['"]\s*(,)?""")


def _dbt_files() -> list:
    folders = ("models", "macros", "python_models")
    return [p for f in folders for p in (PROJECT_DIR / f).rglob("*") if p.suffix in (".sql", ".yml", ".py")]


def test_every_dbt_var_is_declared_once_with_its_default() -> None:
    declared = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    used, inline_defaults = set(), []
    for path in _dbt_files():
        for match in VAR_CALL.finditer(path.read_text()):
            used.add(match.group(1))
            if match.group(2):
                inline_defaults.append(f"{path.relative_to(PROJECT_DIR)}: var('{match.group(1)}', ...)")
    assert sorted(used - set(declared)) == []  # used but not declared
    assert inline_defaults == []  # a default written beside the call is a second default
    assert sorted(set(declared) - used) == []  # declared but never read


def test_the_cli_defaults_are_the_dbt_vars() -> None:
    from pipeline.cli import build_parser

    declared = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    defaults = {a.dest: a.default for a in build_parser()._actions}
    assert defaults["top_k"] == declared["top_k"] and defaults["variance"] == declared["variance_target"]
    assert list(defaults["weights"]) == [declared[f"weight_{s}"] for s in ("interests", "assessments", "course_views")]
    assert defaults["recall_floor"] == declared["topk_recall_floor"]
    assert defaults["max_drop_share"] == declared["max_drop_share"]


PACKAGES = ("contracts", "simcore", "datagen", "pipeline", "evaluation", "server", "benchmarks")


def package_imports() -> dict[str, set[str]]:
    """Package -> project packages its modules import (anywhere in the file, function-level imports included)."""
    import ast

    graph: dict[str, set[str]] = {p: set() for p in PACKAGES}
    for package in PACKAGES:
        for path in (PROJECT_DIR / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                    [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
                graph[package] |= {n.split(".")[0] for n in names if n.split(".")[0] in PACKAGES} - {package}
    return graph


def test_project_packages_import_each_other_without_cycles() -> None:
    from graphlib import CycleError, TopologicalSorter

    graph = package_imports()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle between packages: {exc.args[1]}") from exc
    assert order.index("contracts") < order.index("pipeline") < order.index("evaluation")
    assert "pipeline" not in graph["simcore"] | graph["contracts"] | graph["datagen"]
    assert "contracts" not in graph["simcore"]  # the numeric core reads no project file: callers pass parameters


def _product_sources() -> dict[str, str]:
    """Every product and tooling module (tests excluded), by path relative to the project."""
    return {str(p.relative_to(PROJECT_DIR)): p.read_text() for package in PACKAGES
            for p in (PROJECT_DIR / package).rglob("*.py")}


def test_the_published_sqlite_layout_is_written_only_in_contracts_published() -> None:
    """The history table's name, the runs table's DDL and the current-run query have one home."""
    home = "contracts/published.py"
    patterns = {
        "history table name": re.compile(r"""_history["'}]"""),
        "runs DDL": re.compile(r"create table if not exists (ranking_runs|\{RUNS_TABLE\})"),
        "current / published run query": re.compile(r"order by publish_seq desc"),
    }
    found = [f"{path}: {what}" for path, text in _product_sources().items() if path != home
             for what, pattern in patterns.items() if pattern.search(text)]
    assert found == []
    assert all(pattern.search((PROJECT_DIR / home).read_text()) for pattern in patterns.values())


def test_the_top_k_strategy_is_resolved_once_per_run_and_recorded() -> None:
    """Only user_neighbourhoods (the first search of a run) resolves it; the models after read what it recorded."""
    models = {p.name: p.read_text() for p in (PROJECT_DIR / "python_models").rglob("*.py")}
    callers = sorted(name for name, text in models.items() if "resolve_strategy(" in text)
    assert callers == ["user_neighbourhoods.py"]
    for reader in ("user_ranking.py", "topk_recall.py"):
        assert "topk_method" not in re.findall(r"config\.get\(\"([a-z_]+)\"\)", models[reader])
        assert "topk_method" in models[reader]
    sources = _product_sources()
    assert [p for p, t in sources.items() if "def resolve_strategy" in t] == ["simcore/strategy.py"]
    assert [p for p, t in sources.items() if re.search(r"\bresolve_strategy\(", t) and p != "simcore/strategy.py"] == []


def test_every_cli_flag_that_sets_a_dbt_var_is_one_row_of_the_flag_table() -> None:
    from pipeline.cli import build_parser
    from pipeline.flags import VAR_FLAGS, var_values

    declared = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert len({f.var for f in VAR_FLAGS}) == len(VAR_FLAGS)
    assert {f.var for f in VAR_FLAGS} <= set(declared)
    args = build_parser().parse_args([])
    assert var_values(args) == {f.var: declared[f.var] for f in VAR_FLAGS}
    cli = (PROJECT_DIR / "pipeline" / "cli.py").read_text()
    # the CLI names no var the table holds: a second hand-kept list would drift
    assert [f.var for f in VAR_FLAGS if f'"{f.var}"' in cli] == []


def test_the_product_idf_is_defined_once_and_the_baseline_says_it_differs() -> None:
    smoothed = re.compile(r"ln\(\s*\(\s*1\s*\+")
    homes = [str(p.relative_to(PROJECT_DIR)) for p in (PROJECT_DIR / "macros").rglob("*.sql")
             if smoothed.search(p.read_text())]
    assert homes == ["macros/feature_weighting.sql"]
    idf_functions = sorted(p for p, t in _product_sources().items() if re.search(r"def \w*idf\(", t))
    assert idf_functions == ["evaluation/idf_baseline.py"]
    assert "on purpose not the product's" in (PROJECT_DIR / "evaluation" / "idf_baseline.py").read_text()


def test_dbt_is_organised_by_layer_with_each_config_set_once() -> None:
    project = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())
    layers = {k for k, v in project["models"]["user_similarity"].items() if not k.startswith("+")}
    assert layers == {"staging", "intermediate", "marts"}
    # Python models sit in the layer they belong to; none sets its own materialization
    for path in (PROJECT_DIR / "python_models").rglob("*.py"):
        assert path.parent.name in {"intermediate", "marts"}, path
        assert "materialized" not in path.read_text(), path
    for path in (PROJECT_DIR / "models").rglob("*.sql"):
        assert "materialized" not in path.read_text(), path
    # no dangling path, no test data in dbt's seed path
    for key in ("model-paths", "macro-paths", "seed-paths", "test-paths"):
        assert all((PROJECT_DIR / p).is_dir() for p in project.get(key, [])), key
    assert not list((PROJECT_DIR / "seeds").rglob("*/"))
    assert "enabled" not in str(project.get("seeds"))


def test_the_published_precision_is_written_once() -> None:
    """Scores are rounded by simcore.precision.SCORE_DECIMALS, never by a literal 6."""
    literal = re.compile(r"round\([^()]*(\([^()]*\))*[^()]*,\s*6\s*[,)]")
    found = [p for p, t in _product_sources().items() if literal.search(t)]
    assert found == []
