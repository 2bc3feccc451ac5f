#!/bin/bash
# Device call 1 of 2026-12-02 (second session): the triangle-multiplication probe,
# a kernel profile of the medium fused step with Inductor's generated code, and the
# long-protein rows at N = 512 and 1,024 at the current code. Everything lands in
# $OUT/call1.tar.gz (the device returns only a few files).
set -u
D=$OUT/call1; mkdir -p $D
export PYTHONPATH=.
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > $D/gpu.txt 2>&1
git log -1 --format=%h > $D/commit.txt 2>/dev/null || true
python3 -c "import torch, triton; print(torch.__version__, triton.__version__)" >> $D/gpu.txt 2>&1
PROBE_DEBUG=cur,unf timeout 200 python3 results/h200_2026-12-02b/probe_trimul.py $D/probe cur unf addmm cl cur_coord > $D/probe.txt 2>&1
echo "probe rc=$?" >> $D/rc.txt
TORCH_COMPILE_DEBUG=1 TORCH_COMPILE_DEBUG_DIR=$D/dbg_medium timeout 170 python3 - > $D/medium_profile.txt 2>&1 <<'PY'
import dataclasses, importlib.util, torch, time
import tiny_openfold_v1 as t
spec = importlib.util.spec_from_file_location("pk", "results/h200_2026-12-01/profile_kernels.py")
pk = importlib.util.module_from_spec(spec); spec.loader.exec_module(pk)
cfg = t.config_from_preset("medium")
tc = dataclasses.replace(t.TrainConfig(use_amp=True), batch_size=2, **t.parse_benchmark_path("sdpa+fused+compile-block+graphs"))
begin = time.time()
step, batches = t.benchmark_step(cfg, tc, torch.device("cuda"))
print(t.time_steps(step, batches, 2, torch.device("cuda"), 20, 4), f"setup+timing {time.time() - begin:.1f} s")
pk.kernel_table(pk.profile_steps(step, batches[0], 5), 5, "medium sdpa+fused+compile-block+graphs", top=80)
PY
echo "medium rc=$?" >> $D/rc.txt
timeout 170 python3 tiny_openfold_v1.py --benchmark --use-amp --benchmark-presets long --benchmark-seq-lens 512,1024 \
    --benchmark-paths reference,sdpa,sdpa+fused+ckpt+chunk128 --benchmark-steps 2 --warmup-steps 1 \
    --profile-dir $D/long > $D/long.txt 2>&1
echo "long rc=$?" >> $D/rc.txt
cd $D && find . -name output_code.py -o -name '*.json' -o -name '*.txt' -o -name '*.log' | tar czf $OUT/call1.tar.gz -T -
ls -la $OUT
