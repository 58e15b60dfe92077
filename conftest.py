"""Notebook runs under nbval (``make test`` runs ``pytest --nbval-lax ... tests notebooks``).

Lives at the repository root rather than in ``notebooks/`` so that the students' file
browser holds lessons only.

* Reruns: ipykernel 7 occasionally never answers the first execution request (seen on this
  machine kind, see the stack notes); a fresh kernel succeeds, so a failed notebook cell is
  rerun once. A real error fails every attempt, so nothing is masked; a missing figure is
  never rerun.
* Figures: while nbval executes a notebook, every cell that calls a plotting function must
  produce an ``image/png`` output, and no figure may be shown as ``<Figure size ...>`` text
  (rules in ``tests/notebook_figures.py``). The check reads the outputs nbval collected, so
  each notebook is executed once; ``tests/test_notebook_figures.py`` (nbclient) steps aside
  for notebooks that nbval runs in the same session.
"""

from pathlib import Path

import pytest

from tests.notebook_figures import FAILURE_PHRASE, figure_problems, plotting_cells

_NBVAL_NOTEBOOKS_KEY = pytest.StashKey[set]()


def _is_notebook_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")


def pytest_collection_modifyitems(config, items):
    executed_by_nbval = set()
    for item in items:
        if _is_notebook_cell(item):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2, rerun_except=FAILURE_PHRASE))
            executed_by_nbval.add(Path(str(item.fspath)).resolve())
    config.stash[_NBVAL_NOTEBOOKS_KEY] = executed_by_nbval
    for item in items:
        notebook = getattr(item, "callspec", None) and item.callspec.params.get("notebook_path")
        if notebook is not None and Path(notebook).resolve() in executed_by_nbval:
            item.add_marker(pytest.mark.skip(reason="figures checked during this session's nbval run of the notebook"))


def _plotting_flags(notebook_file) -> list[bool]:
    flags = getattr(notebook_file, "_workbench_plotting_cells", None)
    if flags is None:
        flags = plotting_cells([c.source for c in notebook_file.nb.cells if c.cell_type == "code"])
        notebook_file._workbench_plotting_cells = flags
    return flags


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    if _is_notebook_cell(item) and item.test_outputs is not None:
        flags = _plotting_flags(item.parent)
        problems = figure_problems("This cell", flags[item.cell_num], item.test_outputs)
        if problems:
            from nbval.plugin import NbCellError

            raise NbCellError(item.cell_num, "; ".join(problems), item.cell.source)
    return result
