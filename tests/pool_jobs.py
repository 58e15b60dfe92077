"""Jobs for the experiment-pool tests, run inside spawned worker processes."""

import os
import time


def run(spec, *, device="cpu", report=None, should_stop=None):
    kind = spec["kind"]
    if kind == "count":
        for i in range(spec.get("steps", 3)):
            if should_stop():
                from workbench.dashboards.progress import Cancelled

                raise Cancelled()
            report({"phase": "trials", "trials": i + 1}, force=True)
            time.sleep(spec.get("sleep_s", 0.05))
        return {"device": device, "pid": os.getpid(), "value": spec.get("value")}
    if kind == "ignore_cancel":
        report({"phase": "trials", "trials": 1}, force=True)
        time.sleep(60)
        return {}
    if kind == "crash":
        os._exit(3)
    if kind == "error":
        raise ValueError("value must be in [0, 1], got 7")
    if kind == "boom":
        raise RuntimeError("an internal detail nobody should see")
    raise ValueError(f"unknown kind {kind!r}")
