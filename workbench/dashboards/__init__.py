"""Dashboard components shared by the ipywidgets notebooks and the Panel app.

* :mod:`~workbench.dashboards.registry`: the six models as data (parameters as widget specs,
  input calibration, stage keys and how to draw them);
* :mod:`~workbench.dashboards.core`: stimulus specs, the per-session :class:`Explorer`,
  readouts, debounce and the delayed progress indicator;
* :mod:`~workbench.dashboards.compute`: the process's shared, content-keyed cache, model
  pool and slider threads behind every Explorer;
* :mod:`~workbench.dashboards.workers` and :mod:`~workbench.dashboards.progress`: experiments
  in worker processes with a queue, live progress and cancel;
* :mod:`~workbench.dashboards.figures`: stage and stimulus figures via :mod:`workbench.plots`;
* :mod:`~workbench.dashboards.notebook` (ipywidgets) and :mod:`~workbench.dashboards.panel_ui`
  (Panel) front ends; :mod:`~workbench.dashboards.experiments_ui` for the Experiments tab.
"""
