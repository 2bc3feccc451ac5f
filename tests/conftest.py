"""Put the repository root on sys.path so the tests can `import tiny_openfold_v1`.

Without a GPU, Triton's interpreter runs the --triton-kernels kernels on the CPU
(tests/test_triton_kernels.py). Triton reads TRITON_INTERPRET when it and its
own library functions (tl.sum, ...) are defined, so it is set here, before
anything imports triton.
"""

import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
