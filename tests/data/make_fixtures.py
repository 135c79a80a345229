#!/usr/bin/env python3
"""Regenerate the tiny safetensors fixture written by PyTorch.

tests/test_safetensors.c checks the exact values below, so keep the two
in step. Needs torch and safetensors:  python3 make_fixtures.py
"""
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))

tensors = {
    # 0.5 * (0..5) as a 2x3 float32 matrix
    "0.weight": (torch.arange(6, dtype=torch.float32) * 0.5).reshape(2, 3),
    # exact halves, one subnormal (2^-24), infinity and -2
    "0.bias": torch.tensor([1.0, 2.0**-24, float("inf"), -2.0], dtype=torch.float16),
    # bfloat16 values that are exact
    "1.weight": torch.tensor([[1.5, -0.25], [256.0, 3.0]], dtype=torch.bfloat16),
    # an integer counter, like BatchNorm's num_batches_tracked
    "1.steps": torch.tensor([7, -3, 1 << 40], dtype=torch.int64),
}
metadata = {"format": "pt", "note": "vktrain fixture"}

save_file(tensors, os.path.join(HERE, "torch_small.safetensors"), metadata=metadata)
