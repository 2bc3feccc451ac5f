"""Does a replayed CUDA graph idle between its kernels in some processes and not in others?

    python results/h200_2026-12-03b/graph_gap.py [KERNELS]

Captures two CUDA graphs, each of KERNELS (default 1,400) tiny dependent kernels (an
in-place add on 256 floats, each well under a microsecond of work), replays each 50
times after 5 warm-up replays, and prints one JSON line: microseconds per kernel of
each graph (CUDA events around the replays, divided by the kernel count), the CPUs the
process may run on, the CPU and NUMA node it ran on, and the GPU's NUMA node as sysfs
reports it. The fastest small training step idled 0.34 us between its kernels in some
processes and not at all in others (README.md here, call 1); run this several times,
each its own process, to see whether a graph without the model does the same, and
whether the state belongs to the process or to the graph.
"""
import glob, json, os, sys

import torch


def current_cpu() -> int:
    """The CPU this process last ran on (field 39 of /proc/self/stat; Python's os
    module has no sched_getcpu, which call 2 of this directory found the hard way)."""
    with open("/proc/self/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[36])


def numa_node_of_cpu(cpu: int):
    nodes = glob.glob(f"/sys/devices/system/cpu/cpu{cpu}/node*")
    return int(nodes[0].rsplit("node", 1)[1]) if nodes else None


def gpu_numa_node():
    props = torch.cuda.get_device_properties(0)
    bus = f"{props.pci_domain_id:04x}:{props.pci_bus_id:02x}:{props.pci_device_id:02x}.0"
    try:
        with open(f"/sys/bus/pci/devices/{bus}/numa_node") as f:
            return bus, int(f.read())
    except OSError:
        return bus, None


def capture(x: torch.Tensor, kernels: int) -> torch.cuda.CUDAGraph:
    """A graph of `kernels` in-place adds of 1 to x, one after another."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(kernels):
            x.add_(1)
    return graph


def us_per_kernel(graph: torch.cuda.CUDAGraph, kernels: int, replays: int) -> float:
    """Microseconds a kernel over `replays` back-to-back replays, after 5 warm-up ones."""
    for _ in range(5):
        graph.replay()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(replays):
        graph.replay()
    end.record()
    torch.cuda.synchronize()
    return 1e3 * start.elapsed_time(end) / (replays * kernels)


def main(kernels: int = 1400, replays: int = 50) -> None:
    """Two graphs of the same kernels, captured one after the other, each timed: if one
    process has a slow and a fast one, the state belongs to the graph, not the process."""
    x = torch.zeros(256, device="cuda")
    stream = torch.cuda.Stream()
    with torch.cuda.stream(stream):
        x.add_(1)
    torch.cuda.synchronize()
    graphs = [capture(x, kernels), capture(x, kernels)]
    times = [round(us_per_kernel(g, kernels, replays), 4) for g in graphs]
    cpu = current_cpu()
    bus, gpu_node = gpu_numa_node()
    print(json.dumps({"us_per_kernel": times, "kernels": kernels, "pid": os.getpid(),
                      "allowed_cpus": sorted(os.sched_getaffinity(0)), "ran_on_cpu": cpu,
                      "cpu_numa_node": numa_node_of_cpu(cpu), "gpu_pci": bus, "gpu_numa_node": gpu_node,
                      "check": float(x[0]) == 2 * (5 + replays) * kernels + 1}))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1400)
