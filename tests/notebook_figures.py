"""What "an executed notebook's figures are images" means, checked cell by cell.

Used twice over one rule: by the root ``conftest.py`` on the outputs nbval collects while it
executes the notebooks (``make test`` runs every notebook once), and by
``tests/test_notebook_figures.py``, which executes a notebook with nbclient when nbval does not
run it in the same session.

A code cell fails when

* its top-level code calls a plotting function (a public ``plot_*`` of :mod:`workbench.plots`,
  a dashboard figure builder, or a function an earlier cell of the notebook defined around one
  of these) and none of its outputs carries ``image/png``, or
* any of its outputs is a matplotlib figure shown only as text (``<Figure size ...>``).
"""

from __future__ import annotations

import ast
import re

FIGURE_BUILDERS = frozenset({"stage_figure", "stimulus_figure", "task_figures", "new_figure"})
FIGURE_TEXT = re.compile(r"^<(?:matplotlib\.figure\.)?\w*Figure size [\d.]+x[\d.]+ with \d+ Axes>")
FAILURE_PHRASE = "figure without image output"  # every problem message contains it (rerun filter)


def plotting_function_names() -> frozenset[str]:
    from workbench import plots

    return frozenset(n for n in plots.__all__ if n.startswith("plot_")) | FIGURE_BUILDERS


def _called_names(node: ast.AST) -> set[str]:
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def plotting_cells(sources: list[str], names: frozenset[str] | None = None) -> list[bool]:
    """For each code cell (in notebook order): does its top-level code draw a figure?

    A function defined at top level whose body calls a plotting function becomes one itself
    for the cells after it (``def show(key): return figures.stage_figure(...)``); the
    defining cell does not count as drawing. Cells that do not parse (magics) count as not
    drawing.
    """
    known = set(plotting_function_names() if names is None else names)
    flags = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            flags.append(False)
            continue
        draws = False
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if _called_names(stmt) & known:
                    known.add(stmt.name)
            elif _called_names(stmt) & known:
                draws = True
        flags.append(draws)
    return flags


def _data(output) -> dict:
    return dict(output.get("data", {}) or {}) if hasattr(output, "get") else {}


def figure_problems(cell_label: str, draws: bool, outputs) -> list[str]:
    """Problems with one executed cell's outputs (empty list: fine)."""
    problems = []
    datas = [_data(o) for o in outputs]
    if draws and not any("image/png" in d for d in datas):
        kinds = sorted({k for d in datas for k in d}) or ["no display output"]
        problems.append(
            f"{cell_label} calls a plotting function: {FAILURE_PHRASE} (image/png); it produced {', '.join(kinds)}"
        )
    for d in datas if not problems else ():  # (a figure shown as text is the usual cause)
        text = d.get("text/plain", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        if FIGURE_TEXT.match(text) and "image/png" not in d:
            problems.append(f"{cell_label} shows a {FAILURE_PHRASE}, as text: {text.strip()!r}")
    return problems


def notebook_problems(nb) -> list[str]:
    """All problems of an executed ``nbformat`` notebook."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    flags = plotting_cells([c.source for c in code])
    problems = []
    for i, (cell, draws) in enumerate(zip(code, flags)):
        problems += figure_problems(f"code cell {i}", draws, cell.get("outputs", []))
    return problems
