"""The run's outputs for people and for records: summary.json, report.md, report.png.

``summary.json`` carries every score with the protocol that produced it (model, seed, the
item-id hashes, sampling, judge model and prompt versions, package versions, command line), as
Fin-R1's numbers are only comparable under the same protocol.  ``report.md`` sets the new
result beside the paper's published rows in the paper's layout, then gives the per-benchmark
details (judged share, judge errors, answers found, ...).  ``report.png`` draws the same
comparison as grouped bars (matplotlib's Agg canvas; no display needed).
"""

from __future__ import annotations

import datetime as dt
import math
import platform
from collections import Counter
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from finr1_verl.data.resumable import write_report
from finr1_verl.eval.benchmarks import BENCHMARKS
from finr1_verl.eval.items import ids_sha256
from finr1_verl.eval.paper import PAPER_COLUMNS, PAPER_ROWS, PAPER_SOURCE, PLOT_ROWS
from finr1_verl.eval.score import BenchmarkScore

if TYPE_CHECKING:
    from finr1_verl.eval.items import Loaded
    from finr1_verl.eval.runner import Backend, EvalConfig
    from finr1_verl.reward.judge import AnswerJudge

PACKAGES = ("finr1-verl", "verl", "vllm", "torch", "transformers", "openai", "math-verify")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def paper_average(values: dict[str, float | None]) -> float | None:
    """The paper's average: the unweighted mean of its five benchmarks, only when all five are scored."""
    picked = [values.get(name) for name in PAPER_COLUMNS]
    if any(value is None for value in picked):
        return None
    return round(sum(picked) / len(picked), 2)


def build_summary(
    config: EvalConfig,
    settings: dict[str, Any],
    loaded: dict[str, Loaded],
    scores: dict[str, BenchmarkScore],
    judge: AnswerJudge | None,
    backend: Backend,
) -> dict[str, Any]:
    item_ids = {name: [item.id for item in ld.items] for name, ld in loaded.items()}
    every_id = [f"{name}/{rid}" for name, ids in item_ids.items() for rid in ids]
    protocol = {
        **settings["generation"],
        "scoring": settings["scoring"],
        "seed": config.seed,
        "limit": config.limit,
        "items": {
            name: {
                "count": len(ids),
                "ids_sha256": ids_sha256(ids),
                "selected": len(loaded[name].selected),
                "selection_sha256": ids_sha256(loaded[name].selected),
            }
            for name, ids in item_ids.items()
        },
        "items_sha256": ids_sha256(every_id),
        "packages": package_versions(),
        "command": config.command,
        "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    benchmarks = {}
    for name, score in scores.items():
        bench = BENCHMARKS[name]
        benchmarks[name] = {
            "title": bench.title,
            "in_paper": bench.in_paper,
            "metric": bench.metric,
            "selection": bench.selection.describe(),
            "data": str(config.data[name]),
            "parsed": loaded[name].parsed,
            "rejected": dict(sorted(Counter(r.reason for r in loaded[name].rejects).items())),
            **score.as_dict(),
        }
    calls = {"model": backend.stats()}
    if judge is not None:
        calls["judge"] = {**judge.client.stats.snapshot(), **judge.stats.snapshot()}
    return {
        "label": config.label or settings["generation"]["model"],
        "protocol": protocol,
        "benchmarks": benchmarks,
        "average": {
            "rule": paper_average({n: s.rule_score for n, s in scores.items()}),
            "judge": paper_average({n: s.judge_score for n, s in scores.items()}),
        },
        "calls": calls,
    }


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def result_rows(summary: dict[str, Any]) -> list[tuple[str, list[float | None]]]:
    """The new result as rows of the paper's table: judged (when a judge was used), then rules only."""
    benches = summary["benchmarks"]
    rows = []
    for key, average, caption in (("judge_score", "judge", "judge"), ("rule_score", "rule", "rules only")):
        values = [benches.get(name, {}).get(key) for name in PAPER_COLUMNS]
        if key == "judge_score" and all(v is None for v in values):
            continue
        rows.append((f"{summary['label']} ({caption})", [*values, summary["average"][average]]))
    return rows


def markdown(summary: dict[str, Any]) -> str:
    protocol, benches = summary["protocol"], summary["benchmarks"]
    titles = [BENCHMARKS[name].title for name in PAPER_COLUMNS]
    lines = [
        f"# Evaluation: {summary['label']}",
        "",
        f"Published rows: {PAPER_SOURCE}. Scores are % correct; avg is the unweighted mean of the five "
        "(— where a benchmark was not run).",
        "",
        "| model | " + " | ".join(titles) + " | avg |",
        "|---|" + "---:|" * (len(titles) + 1),
    ]
    for label, values in result_rows(summary):
        lines.append(f"| **{label}** | " + " | ".join(f"**{_cell(v)}**" for v in values) + " |")
    for model, values in PAPER_ROWS.items():
        lines.append(f"| {model} | " + " | ".join(_cell(v) for v in values) + " |")
    lines += [
        "",
        "## Per benchmark",
        "",
        "| benchmark | items | rule score | judge score | judged | judge errors | rule≠judge | answer found "
        "| format ok | guarded | truncated | generation errors | selection | item ids sha256 |",
        "|---|" + "---:|" * 11 + "---|---|",
    ]
    for name, b in benches.items():
        lines.append(
            f"| {b['title']} | {b['items']} | {_cell(b['rule_score'])} | {_cell(b['judge_score'])} "
            f"| {b['judged']} ({b['judged_share']:.1f}%) | {b['judge_errors']} | {b['rule_judge_disagree']} "
            f"| {b['answer_found']} | {b['format_ok']} | {b['guarded']} | {b['truncated']} "
            f"| {b['generation_errors']} | {b['selection']} | `{protocol['items'][name]['ids_sha256'][:16]}` |"
        )
    scoring = protocol["scoring"]
    sampling = protocol["sampling"]
    lines += [
        "",
        "## Protocol",
        "",
        f"- model: `{protocol['model']}` ({protocol['backend']})",
        f"- sampling: temperature {sampling['temperature']}, top_p {sampling['top_p']}, "
        f"max_tokens {sampling['max_tokens']}, seed {sampling['seed']}",
        f"- prompt: `{protocol['prompt_version']}`",
        f"- scoring: rules `{scoring.get('rules_version', '-')}`, mode `{scoring['mode']}`, "
        f"lenient extraction {scoring['lenient']}, "
        f"judge `{scoring.get('judge_model', 'none')}` with prompt `{scoring.get('judge_prompt_version', '-')}`",
        f"- selection seed {protocol['seed']}, limit {protocol['limit']}, all item ids sha256 "
        f"`{protocol['items_sha256']}`",
        "- packages: " + ", ".join(f"{k} {v}" for k, v in protocol["packages"].items() if v),
        f"- command: `{protocol['command']}`" if protocol["command"] else "- command: (library call)",
    ]
    for b in benches.values():
        if b["generation_errors"]:
            lines.append(
                f"- {b['title']}: {b['generation_errors']} generation errors count as wrong; rerun to retry"
            )
    return "\n".join(lines) + "\n"


def bar_chart(summary: dict[str, Any]) -> Figure:
    """Grouped bars: the paper's five benchmarks and the average, the new result beside chosen paper rows."""
    groups = [BENCHMARKS[name].title for name in PAPER_COLUMNS] + ["avg"]
    series = [(label, values) for label, values in result_rows(summary)[:1]]
    series += [(model, list(PAPER_ROWS[model])) for model in PLOT_ROWS]
    figure = Figure(figsize=(11, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    width = 0.8 / len(series)
    for index, (label, values) in enumerate(series):
        heights = [math.nan if v is None else v for v in values]
        xs = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = axes.bar(xs, heights, width, label=label)
        if index == 0:
            axes.bar_label(bars, fmt="%.1f", fontsize=7)
    axes.set_xticks(range(len(groups)), groups)
    axes.set_ylabel("% correct")
    axes.set_ylim(0, 112)  # headroom above 100 for the legend row
    axes.set_yticks(range(0, 101, 20))
    axes.set_title(f"{summary['label']} vs Fin-R1's published results")
    axes.legend(fontsize=8, loc="upper center", ncol=len(series), frameon=False)
    figure.tight_layout()
    return figure


def write_reports(summary: dict[str, Any], out: Path) -> None:
    """``summary.json``, ``report.md`` and ``report.png`` in ``out``."""
    write_report(out / "summary.json", summary)
    (out / "report.md").write_text(markdown(summary), encoding="utf-8")
    bar_chart(summary).savefig(out / "report.png")
