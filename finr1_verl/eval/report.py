"""The run's outputs for people and for records: summary.json, report.md, report.png.

``summary.json`` carries every score, its 95% interval (:mod:`.stats`) and n with the protocol that produced it (model, seed, the
item-id hashes, sampling, judge model and prompt versions, package versions, command line), as
Fin-R1's numbers are only comparable under the same protocol.  ``report.md`` sets the new
result beside the paper's published rows in the paper's layout, then gives the per-benchmark
details (judged share, judge errors, answers found, ...); every cell gives n and the interval,
so 33.3% of 3 items reads as what it is, and a benchmark without items reads "not run".
``report.png`` draws the same comparison as grouped bars with 95% error bars, FinanceIQ and
FinCUGE in a panel of their own (matplotlib's Agg canvas; no display needed).
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
from finr1_verl.eval.stats import percent_interval

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
            "rule_ci95": percent_interval(score.rule_hits, score.items),
            "judge_ci95": None
            if score.judge_hits is None
            else percent_interval(score.judge_hits, score.items),
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


OTHER_COLUMNS: tuple[str, ...] = tuple(name for name in BENCHMARKS if name not in PAPER_COLUMNS)
NOT_RUN = "not run"
SCORES = (("judge_score", "judge_hits", "judge"), ("rule_score", "rule_hits", "rules only"))


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def score_cell(bench: dict[str, Any] | None, key: str) -> str:
    """A report cell: the score, its 95% interval and n; "not run" for a benchmark without items."""
    if bench is None or not bench["items"]:
        return NOT_RUN
    interval = bench[f"{key.removesuffix('_score')}_ci95"]
    if bench[key] is None or interval is None:
        return "—"
    return f"{bench[key]:.1f} [{interval[0]:.1f}–{interval[1]:.1f}] n={bench['items']}"


def judged_scores(summary: dict[str, Any]) -> bool:
    return any(b["judge_score"] is not None for b in summary["benchmarks"].values())


def result_rows(summary: dict[str, Any], columns: tuple[str, ...] = PAPER_COLUMNS) -> list[tuple[str, str]]:
    """The new result's rows of a table over ``columns``: (label, score key); judged first when a
    judge was used, then rules only.  The label names the judge mode that produced the judged row."""
    mode = summary["protocol"]["scoring"]["mode"]
    rows = []
    for key, _, caption in SCORES:
        if key == "judge_score" and not judged_scores(summary):
            continue
        label = (
            f"{summary['label']} (judge, mode {mode})"
            if key == "judge_score"
            else f"{summary['label']} ({caption})"
        )
        rows.append((label, key))
    return rows


def markdown(summary: dict[str, Any]) -> str:
    protocol, benches = summary["protocol"], summary["benchmarks"]
    titles = [BENCHMARKS[name].title for name in PAPER_COLUMNS]
    lines = [
        f"# Evaluation: {summary['label']}",
        "",
        f"Published rows: {PAPER_SOURCE}, every answer judged (mode `always`). Scores are % correct "
        "with their 95% interval (Wilson) and the number of items; avg is the unweighted mean of the "
        "five (— unless all five ran). Judge modes: `always` judges every answer; `rule_first` only "
        "what the rules cannot decide; rules only is the rule verdict alone.",
        "",
        "| model | " + " | ".join(titles) + " | avg |",
        "|---|" + "---:|" * (len(titles) + 1),
    ]
    averages = {"judge_score": summary["average"]["judge"], "rule_score": summary["average"]["rule"]}
    for label, key in result_rows(summary):
        cells = [score_cell(benches.get(name), key) for name in PAPER_COLUMNS] + [_cell(averages[key])]
        lines.append(f"| **{label}** | " + " | ".join(f"**{c}**" for c in cells) + " |")
    for model, values in PAPER_ROWS.items():
        lines.append(f"| {model} | " + " | ".join(_cell(v) for v in values) + " |")
    lines += [
        "",
        "Benchmarks outside the paper's table:",
        "",
        "| model | " + " | ".join(BENCHMARKS[name].title for name in OTHER_COLUMNS) + " |",
        "|---|" + "---:|" * len(OTHER_COLUMNS),
    ]
    for label, key in result_rows(summary):
        lines.append(
            f"| **{label}** | " + " | ".join(score_cell(benches.get(n), key) for n in OTHER_COLUMNS) + " |"
        )
    lines += [
        "",
        "## Per benchmark",
        "",
        "| benchmark | items | rule score | judge score | judge mode | judged | judge errors | rule≠judge "
        "| answer found | format ok | guarded | truncated | generation errors | selection | item ids sha256 |",
        "|---|---:|---:|---:|---|" + "---:|" * 8 + "---|---|",
    ]
    mode = protocol["scoring"]["mode"]
    for name, b in benches.items():
        lines.append(
            f"| {b['title']} | {b['items']} | {score_cell(b, 'rule_score')} | {score_cell(b, 'judge_score')} "
            f"| {mode} | {b['judged']} ({b['judged_share']:.1f}%) | {b['judge_errors']} | {b['rule_judge_disagree']} "
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
        "- sampling: " + ", ".join(f"{k} {v}" for k, v in sampling.items()),
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


def _new_series(summary: dict[str, Any], columns: tuple[str, ...]) -> list[tuple[str, list[float], list]]:
    """The new result's bars over ``columns``: (label, heights, [lower, upper] error lengths)."""
    benches = summary["benchmarks"]
    series = []
    for label, key in result_rows(summary, columns):
        heights, lower, upper = [], [], []
        for name in columns:
            bench = benches.get(name)
            interval = bench and bench.get(f"{key.removesuffix('_score')}_ci95")
            value = bench[key] if bench and bench["items"] and interval else None
            heights.append(math.nan if value is None else value)
            lower.append(0.0 if value is None else value - interval[0])
            upper.append(0.0 if value is None else interval[1] - value)
        series.append((label, heights, [lower, upper]))
    return series


def _draw_panel(axes, groups: list[str], series: list[tuple[str, list[float], list | None]]) -> None:
    width = 0.8 / len(series)
    for index, (label, heights, errors) in enumerate(series):
        xs = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = axes.bar(xs, heights, width, label=label, yerr=errors, capsize=2 if errors else 0)
        if errors is not None:
            axes.bar_label(bars, fmt="%.1f", fontsize=7, padding=6)
            for x, height in zip(xs, heights, strict=True):
                if math.isnan(height):
                    axes.text(x, 2, NOT_RUN, rotation=90, fontsize=7, ha="center", va="bottom")
    axes.set_xticks(range(len(groups)), groups, fontsize=8)
    axes.set_xlim(-0.5, len(groups) - 0.5)  # bars of a benchmark that did not run are NaN: no autoscale
    axes.set_ylim(0, 112)  # headroom above 100 for the legend row
    axes.set_yticks(range(0, 101, 20))


def bar_chart(summary: dict[str, Any]) -> Figure:
    """Grouped bars with 95% error bars: the paper's five benchmarks and the average beside chosen
    paper rows, and a panel of its own for the benchmarks outside the paper's table."""
    figure = Figure(figsize=(11, 5), dpi=100)
    FigureCanvasAgg(figure)
    paper_axes, other_axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [4, 1]})
    new = _new_series(summary, PAPER_COLUMNS)[:1]
    average = summary["average"]["judge" if judged_scores(summary) else "rule"]
    series: list[tuple[str, list[float], list | None]] = [
        (label, [*heights, math.nan if average is None else average], [[*e, 0.0] for e in errors])
        for label, heights, errors in new
    ]
    series += [(model, list(PAPER_ROWS[model]), None) for model in PLOT_ROWS]
    _draw_panel(paper_axes, [BENCHMARKS[n].title for n in PAPER_COLUMNS] + ["avg"], series)
    paper_axes.set_ylabel("% correct")
    paper_axes.set_title(f"{summary['label']} vs Fin-R1's published results", fontsize=10)
    paper_axes.legend(fontsize=7, loc="upper center", ncol=len(series), frameon=False)
    others = _new_series(summary, OTHER_COLUMNS)
    _draw_panel(other_axes, [BENCHMARKS[n].title for n in OTHER_COLUMNS], others)
    if any(not math.isnan(h) for _, heights, _ in others for h in heights):
        other_axes.legend(fontsize=6, loc="upper center", frameon=False)
    other_axes.set_title("not in the paper's table", fontsize=10)
    figure.tight_layout()
    return figure


def write_reports(summary: dict[str, Any], out: Path) -> None:
    """``summary.json``, ``report.md`` and ``report.png`` in ``out``."""
    write_report(out / "summary.json", summary)
    (out / "report.md").write_text(markdown(summary), encoding="utf-8")
    bar_chart(summary).savefig(out / "report.png")
