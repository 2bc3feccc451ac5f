"""Does AF2's initialisation (Suppl. 1.11.4) train the Quick Start as well as the script's?

    python3 results/cpu_2026-12-08/init_check.py {script,af2} [extra CLI flags]

"script" runs tiny_openfold_v1.py's main() as it is. "af2" first patches the model's
construction with the two initialisation differences that the README's Architecture
section lists: the transitions' first layer with He's std sqrt(2 / fan_in) (a ReLU follows
it) instead of LeCun's 1 / sqrt(fan_in), and the input embeddings (nn.Embedding, N(0, 1))
with LeCun's std 1 / sqrt(vocab_size), as a Linear on one-hot features would start. (The
third difference, a truncated normal, is left out: it changes the std by a few percent.)
Then it runs main() with the same arguments. The script itself is not changed.
"""
import math
import sys

import torch

sys.path.insert(0, ".")
import tiny_openfold_v1 as tof  # noqa: E402


def af2_init(model: tof.TinyOpenFold) -> None:
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, tof.Transition):
                w = module.linear_1.weight
                w.normal_(0.0, math.sqrt(2.0 / w.shape[1]))
            if isinstance(module, tof.nn.Embedding):
                module.weight.normal_(0.0, 1.0 / math.sqrt(module.num_embeddings))


if __name__ == "__main__":
    mode, argv = sys.argv[1], sys.argv[2:]
    if mode == "af2":
        init = tof.TinyOpenFold.__init__

        def patched(self, *args, **kwargs):
            init(self, *args, **kwargs)
            af2_init(self)
        tof.TinyOpenFold.__init__ = patched
    elif mode != "script":
        sys.exit("mode: script or af2")
    sys.exit(tof.main(argv))
