"""Batched dispatch to local workers: the schedule changes no stored bit.

Reference: the serial run of the same spec in this process (sample s at grid point p draws its
disorder from SeedSequence(seed, spawn_key=(p, s)) and nothing else: README "Reproducibility"),
and guided self-scheduling (Polychronopoulos & Kuck, IEEE Trans. Comput. 36, 1425 (1987)):
batches shrink with the work left, the last tasks go out one at a time.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

from tgsweep.sweep import parse_spec, run_sweep
from tgsweep.sweep.executors import LocalWorkers
from tgsweep.sweep.runner import BATCH_SECONDS, batch_size
from tgsweep.sweep.tasks import compute_chunks

from _sweep_util import arrays, assert_stores_equal, spec_dict

#: 2 grid points x 60 one-sample tasks of a 12-site ring (~ms each): batches of several tasks
SPEC = spec_dict(sampling={"n_samples": 60, "seed": 3, "samples_per_task": 1})


def test_batch_size_guided_and_capped():
    """One task without an estimate; a third of each worker's share of what is left, at most
    BATCH_SECONDS of work, at least one; sent in turn they cover every task and the last
    ones go out singly."""
    assert batch_size(100, 2, None) == 1
    assert batch_size(100, 2, 0.001) == 100 // 6
    assert batch_size(100, 2, BATCH_SECONDS / 4) == 4  # the time cap
    assert batch_size(100, 2, 10.0) == 1
    left, sizes = 1000, []
    while left:
        k = batch_size(left, 2, 1e-4)
        assert 1 <= k <= left
        sizes.append(k)
        left -= k
    assert sum(sizes) == 1000
    assert sizes == sorted(sizes, reverse=True)  # never growing
    assert sizes[-6:] == [1] * 6  # the tail: one task per dispatch


def test_batched_dispatch_on_workers_bitwise_serial(tmp_path, monkeypatch):
    """Two local worker processes, tasks sent in batches (counted: some dispatches carry
    several tasks): the store equals the serial run's bit for bit."""
    spec = parse_spec(SPEC)
    ref = tmp_path / "ref.zarr"
    run_sweep(spec, ref, progress=False)
    sent = []
    submit = ProcessPoolExecutor.submit

    def counting(self, fn, *args, **kw):
        if fn is compute_chunks:
            sent.append(len(args[1]))
        return submit(self, fn, *args, **kw)

    monkeypatch.setattr(ProcessPoolExecutor, "submit", counting)
    workers = LocalWorkers(2, auto=False)
    try:
        workers.get()  # started: every task but the client's first goes to the workers
        out = tmp_path / "out.zarr"
        rep = run_sweep(spec, out, workers, progress=False)
    finally:
        workers.close()
    assert rep.tasks_run == 120
    assert sent and max(sent) > 1, sent
    assert_stores_equal(arrays(ref), arrays(out))
