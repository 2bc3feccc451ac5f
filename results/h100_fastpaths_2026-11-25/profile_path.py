"""Profile a few steps of one benchmark path: top CUDA kernels by total time."""
import sys, dataclasses, torch, tiny_openfold_v1 as t
from torch.profiler import profile, ProfilerActivity
preset, n, path, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
cfg = t.config_from_preset(preset, max_seq_len=n)
tc = dataclasses.replace(t.TrainConfig(use_amp=True), batch_size=t.PRESETS[preset]["batch_size"], **t.parse_benchmark_path(path))
dev = torch.device("cuda")
amp, _ = t.amp_settings(tc, dev)
torch.manual_seed(0)
model = t.TinyOpenFold(cfg).to(dev).configure(tc.attention, tc.chunk_size, tc.checkpoint_blocks)
opt = t.make_optimizer(model, tc, dev)
obj = t.make_objective(model, cfg, tc, amp, dev)
batch = t.benchmark_batch(cfg, tc.batch_size, dev, 0)
def eager(b):
    opt.zero_grad(set_to_none=True); loss = obj(b); loss.backward(); t.optimizer_update(opt, None, tc.grad_clip); return loss
step = t.CudaGraphStep(obj, model, opt, tc.grad_clip, batch) if tc.cuda_graphs else eager
for _ in range(2): step(batch)
torch.cuda.synchronize()
with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
    for _ in range(steps): step(batch)
    torch.cuda.synchronize()
ka = prof.key_averages()
total = sum(e.self_device_time_total for e in ka) / steps / 1e3
n_k = sum(e.count for e in ka if e.self_device_time_total > 0) / steps
print(f"== {preset} N={n} {path}: GPU kernel time {total:.2f} ms/step, {n_k:.0f} kernels/step")
print(ka.table(sort_by="self_cuda_time_total", row_limit=18, max_name_column_width=70))
