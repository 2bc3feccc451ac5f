"""Data parallelism on CPU: DistributedDataParallel with gloo processes under
torchrun, gradient accumulation, and the --parallel choices' errors."""

import json
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "tiny_openfold_v1.py")
# Fixed-length proteins (no --min-seq-len): every sample has the same number of
# residue pairs, so the mean of per-rank mean losses is the global mean loss.
SHAPE = ["--preset", "tiny", "--seq-len", "10", "--num-seqs", "4", "--num-blocks", "1", "--eval-samples", "2",
         "--device", "cpu", "--num-workers", "0", "--batch-size", "4", "--num-steps", "2", "--lr-warmup", "0"]
ENV = dict(os.environ, OMP_NUM_THREADS="1")
for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
    ENV.pop(key, None)


def train(tmp_path, name, *extra, procs=None):
    out = tmp_path / name
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}"] \
        if procs else [sys.executable]
    cmd = [*launcher, SCRIPT, *SHAPE, "--profile-dir", str(out), "--checkpoint-dir", str(out / "ck"), *extra]
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=300)
    return r, out


def weights(out):
    return torch.load(out / "ck" / "checkpoint.pt", map_location="cpu", weights_only=False)["model"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


def test_ddp_on_two_processes_equals_one_process_on_the_global_batch(tmp_path):
    one, out_one = train(tmp_path, "one")
    two, out_two = train(tmp_path, "ddp2", procs=2)
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-2000:]
    assert "DistributedDataParallel over 2 processes (gloo), global batch 4, 2 per process" in two.stdout
    assert two.stdout.count("Performance Summary") == 1  # rank 0 alone talks
    assert_same_weights(weights(out_one), weights(out_two))
    summary = json.loads((out_two / "performance_summary.json").read_text())
    assert summary["parallel"] == {"mode": "ddp", "world_size": 2, "backend": "gloo", "devices": 2,
                                   "grad_accum_steps": 1, "per_process_batch": 2}
    one_summary = json.loads((out_one / "performance_summary.json").read_text())
    # Printed losses are the global batch's: the same in both runs.
    assert summary["loss_history"] == pytest.approx(one_summary["loss_history"], rel=1e-5)


def test_ddp_with_flat_optimizer_equals_one_reference_process(tmp_path):
    """--flat-optimizer under DDP: FlatAdamW makes each parameter a view of its buffer
    before DDP wraps the model, so DDP's start-up broadcast writes into the buffer and
    its averaged gradients are gathered from the views; two processes end with the
    weights of one process with plain AdamW."""
    one, out_one = train(tmp_path, "one")
    two, out_two = train(tmp_path, "ddp2_flat", "--flat-optimizer", procs=2)
    assert one.returncode == 0, one.stderr[-2000:]
    assert two.returncode == 0, two.stderr[-2000:]
    assert_same_weights(weights(out_one), weights(out_two))


def test_gradient_accumulation_equals_the_whole_batch(tmp_path):
    whole, out_whole = train(tmp_path, "whole")
    accum, out_accum = train(tmp_path, "accum", "--grad-accum-steps", "2")
    both, out_both = train(tmp_path, "ddp_accum", "--grad-accum-steps", "2", procs=2)
    for r in (whole, accum, both):
        assert r.returncode == 0, r.stderr[-2000:]
    assert_same_weights(weights(out_whole), weights(out_accum))
    assert_same_weights(weights(out_whole), weights(out_both))
    # Weights alone would not see a wrong gradient scale: the default --grad-clip 1.0
    # rescales these gradients (norm ~85), and AdamW's update hardly depends on scale.
    # The printed loss of a step is the sum of the micro-batches' scaled losses, so a
    # missing 1 / (number of micro-batches) shows there.
    whole_losses = json.loads((out_whole / "performance_summary.json").read_text())["loss_history"]
    for out in (out_accum, out_both):
        losses = json.loads((out / "performance_summary.json").read_text())["loss_history"]
        assert losses == pytest.approx(whole_losses, rel=1e-5)


def test_ddp_batch_that_does_not_divide_is_refused(tmp_path):
    r, _ = train(tmp_path, "bad", "--batch-size", "3", procs=2)
    assert r.returncode != 0
    assert "--batch-size 3: the global batch must divide evenly over the 2 processes" in r.stderr
    assert r.stderr.count("tiny_openfold_v1.py: error:") == 1  # one rank says it


@pytest.mark.parametrize("flags,message", [
    (["--parallel", "ddp"], "--parallel ddp: start the processes with torchrun"),
    (["--parallel", "dp"], "--parallel dp: DataParallel needs CUDA/ROCm GPUs"),
    (["--parallel", "dp", "--no-data-parallel"], "--no-data-parallel contradicts --parallel dp"),
    (["--grad-accum-steps", "3"], "--grad-accum-steps 3: must divide the per-process batch (4)"),
    (["--parallel", "fast"], "--parallel"),
])
def test_parallel_flag_errors_are_one_line(tmp_path, flags, message):
    r, _ = train(tmp_path, "err", *flags)
    assert r.returncode == 2
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
