"""The shared compute service of the dashboards: content keys, the byte-bounded single-flight
cache, the model pool, the slider executor and device plumbing (no browser, no real model)."""

import threading
import time

import numpy as np
import pytest
import torch

from tests.test_dashboards import FAKE, FakeModel
from workbench.dashboards import compute
from workbench.dashboards.core import Explorer, StimulusSpec
from workbench.dashboards.registry import MODELS


@pytest.fixture
def fake(monkeypatch):
    monkeypatch.setitem(MODELS, "FakeModel", FAKE)
    compute.SERVICE.cache.clear()
    FakeModel.calls = 0
    return FAKE


def test_content_keys_follow_content_not_identity():
    a = compute.content_key("run", "Dau1997", {"flow": 80.0, "fhigh": 8000.0}, StimulusSpec(level_db_spl=60))
    b = compute.content_key("run", "Dau1997", {"fhigh": 8000.0, "flow": 80.0}, StimulusSpec(level_db_spl=60.0))
    c = compute.content_key("run", "Dau1997", {"flow": 80.0, "fhigh": 8000.0}, StimulusSpec(level_db_spl=61))
    assert a == b != c
    assert compute.content_key(np.float64(1.5)) == compute.content_key(1.5)
    with pytest.raises(TypeError, match="cannot key a computation on a"):
        compute.content_key(object())


def test_cache_is_bounded_in_bytes_and_least_recently_used_goes_first():
    cache = compute.ContentCache(max_bytes=10_000)
    for i in range(5):
        cache.put(f"k{i}", np.zeros(250))  # 2000 bytes each (+ nothing else)
    assert len(cache) == 5 and cache.bytes == 10_000
    assert cache.peek("k0") is not None  # k0 used: k1 is now the oldest
    cache.put("k5", np.zeros(250))
    assert "k1" not in cache and "k0" in cache and cache.bytes <= 10_000 and cache.evictions == 1
    cache.put("huge", np.zeros(10_000))  # over a quarter of the budget: returned, never kept
    assert "huge" not in cache and len(cache) == 5


def test_identical_requests_compute_once_and_the_rest_wait():
    cache = compute.ContentCache(max_bytes=1e6)
    calls = []

    def make(still_wanted):
        calls.append(1)
        time.sleep(0.3)
        return np.arange(10)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.get_or_compute("k", make))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert sorted(hit for _, hit in results) == [False, True, True, True]
    assert all(value is results[0][0] for value, _ in results)


def test_a_request_others_wait_for_is_never_abandoned_and_a_failure_lets_them_retry():
    cache = compute.ContentCache(max_bytes=1e6)
    started, release = threading.Event(), threading.Event()
    seen = {}

    def make(still_wanted):
        started.set()
        release.wait(5)
        seen["wanted"] = still_wanted()  # the owner has moved on, but another session waits
        return 42

    owner = threading.Thread(target=lambda: cache.get_or_compute("k", make, shared_stale=lambda: True))
    owner.start()
    started.wait(5)
    waiter_result = []
    waiter = threading.Thread(target=lambda: waiter_result.append(cache.get_or_compute("k", lambda w: 0)))
    waiter.start()
    time.sleep(0.2)
    release.set()
    owner.join()
    waiter.join()
    assert seen["wanted"] is True and waiter_result == [(42, True)]
    # alone and stale: not wanted any more
    cache.get_or_compute("alone", lambda w: seen.__setitem__("alone", w()), shared_stale=lambda: True)
    assert seen["alone"] is False

    def fail(still_wanted):
        time.sleep(0.2)
        raise RuntimeError("boom")

    out = []
    t = threading.Thread(target=lambda: out.append(cache.get_or_compute("f", lambda w: "second try")))
    first = threading.Thread(target=lambda: pytest.raises(RuntimeError, cache.get_or_compute, "f", fail))
    first.start()
    time.sleep(0.05)
    t.start()
    first.join()
    t.join()
    assert out == [("second try", False)]


def test_model_pool_lends_each_instance_to_one_computation_at_a_time():
    pool = compute.ModelPool(max_idle=2)
    built = []

    def factory():
        built.append(object())
        return built[-1]

    with pool.borrow(("m",), factory) as a, pool.borrow(("m",), factory) as b:
        assert a is not b  # concurrent use: two instances
    with pool.borrow(("m",), factory) as c:
        assert c in (a, b) and len(built) == 2  # reused afterwards
    for key in ("x", "y", "z"):
        with pool.borrow((key,), factory):
            pass
    assert pool.stats()["idle_models"] == 2  # bounded


def test_slider_executor_is_resizable_before_use_and_separate_from_experiments():
    ex = compute.SliderExecutor(1)
    ex.resize(3)
    names = set()
    barrier = threading.Barrier(3, timeout=5)

    def work():
        names.add(threading.current_thread().name)
        barrier.wait()

    futures = [ex.submit(work) for _ in range(3)]
    for f in futures:
        f.result(5)
    assert len(names) == 3 and all(n.startswith("workbench-slider") for n in names)
    ex.shutdown()
    from workbench.dashboards import panel_ui

    assert panel_ui.EXECUTOR is compute.SERVICE.executor


def test_configure_checks_its_arguments():
    service = compute.ComputeService()
    with pytest.raises(ValueError, match="threads must be an integer in"):
        service.configure(threads=0)
    with pytest.raises(ValueError, match="cache_mb must be in"):
        service.configure(cache_mb=float("nan"))
    with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda'"):
        service.configure(device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
            service.configure(device="cuda")
        assert compute.resolve_device("auto") == "cpu"
    assert service.configure(threads=3, cache_mb=64, device="cpu").stats()["threads"] == 3


def test_explorer_runs_on_its_device_with_pooled_models(fake, monkeypatch):
    moved = []
    original = FakeModel.to

    def to(self, *args, **kwargs):
        moved.append(str(args[0]) if args else str(kwargs.get("device")))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FakeModel, "to", to)
    service = compute.ComputeService(cache_mb=64, device="cpu")
    e = Explorer(service=service)
    assert e.device == "cpu"
    r = e.run("FakeModel", StimulusSpec(duration_s=0.05))
    assert moved == ["cpu"] and r.stages["ihc"].dtype == np.float32  # the model's dtype, no float64 copy
    e.run("FakeModel", StimulusSpec(duration_s=0.05, level_db_spl=50))
    assert moved == ["cpu"] and service.models.stats()["built"] == 1  # the instance was reused
    assert Explorer(service=service, device="cpu").device == "cpu"
    with pytest.raises(ValueError, match="device must be"):
        Explorer(device="tpu")


def test_a_private_explorer_does_not_touch_the_shared_cache(fake):
    private = Explorer(cache_size=2)
    private.run("FakeModel", StimulusSpec(duration_s=0.05))
    assert len(compute.SERVICE.cache) == 0 and len(private.service.cache) > 0
