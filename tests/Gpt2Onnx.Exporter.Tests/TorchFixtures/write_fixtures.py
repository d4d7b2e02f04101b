"""Writes the pytorch_model.bin fixtures of TorchCheckpointTests with PyTorch (Debian's python3-torch 1.13):
a tiny GPT-2 (vocab 16, 8 positions, width 8, 2 layers) whose element i of the j-th tensor, in
Gpt2Checkpoint.ExpectedTensors order, is ((31 j + 17 i) mod 251 - 125) / 256, exact in float16 too.

  zip/pytorch_model.bin     torch.save's zip format, as GPT2LMHeadModel.state_dict() holds it: the
                            "transformer." prefix, lm_head.weight sharing wte's storage, the attn.bias
                            and attn.masked_bias buffers; h.0.attn.c_attn.weight saved as a transposed
                            (strided) view, h.1.ln_1's weight and bias as two windows of one storage.
  legacy/pytorch_model.bin  the format before PyTorch 1.6, float16, no prefix, uint8 attn.bias buffers.

Run: /usr/bin/python3 tests/Gpt2Onnx.Exporter.Tests/TorchFixtures/write_fixtures.py
"""
import os
from collections import OrderedDict

import torch

V, P, C, L = 16, 8, 8, 2


def expected_tensors():
    yield "wte.weight", (V, C)
    yield "wpe.weight", (P, C)
    for i in range(L):
        h = f"h.{i}."
        yield h + "ln_1.weight", (C,)
        yield h + "ln_1.bias", (C,)
        yield h + "attn.c_attn.weight", (C, 3 * C)
        yield h + "attn.c_attn.bias", (3 * C,)
        yield h + "attn.c_proj.weight", (C, C)
        yield h + "attn.c_proj.bias", (C,)
        yield h + "ln_2.weight", (C,)
        yield h + "ln_2.bias", (C,)
        yield h + "mlp.c_fc.weight", (C, 4 * C)
        yield h + "mlp.c_fc.bias", (4 * C,)
        yield h + "mlp.c_proj.weight", (4 * C, C)
        yield h + "mlp.c_proj.bias", (C,)
    yield "ln_f.weight", (C,)
    yield "ln_f.bias", (C,)


def values(j, shape):
    n = 1
    for d in shape:
        n *= d
    i = torch.arange(n, dtype=torch.int64)
    return (((31 * j + 17 * i) % 251 - 125).to(torch.float32) / 256).reshape(shape)


def state_dict(prefix, dtype, mask_dtype):
    tensors = {name: values(j, shape).to(dtype) for j, (name, shape) in enumerate(expected_tensors())}
    sd = OrderedDict()
    for name, tensor in tensors.items():
        sd[prefix + name] = tensor
    for i in range(L):
        sd[prefix + f"h.{i}.attn.bias"] = torch.tril(torch.ones(P, P, dtype=mask_dtype)).view(1, 1, P, P)
        sd[prefix + f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4, dtype=dtype)
    sd._metadata = OrderedDict([("", {"version": 1})])
    return sd


here = os.path.dirname(os.path.abspath(__file__))
for folder in ("zip", "legacy"):
    os.makedirs(os.path.join(here, folder), exist_ok=True)

sd = state_dict("transformer.", torch.float32, torch.bool)
sd["lm_head.weight"] = sd["transformer.wte.weight"]
sd["transformer.h.0.attn.c_attn.weight"] = sd["transformer.h.0.attn.c_attn.weight"].t().contiguous().t()
assert not sd["transformer.h.0.attn.c_attn.weight"].is_contiguous()
shared = torch.cat([sd["transformer.h.1.ln_1.weight"], sd["transformer.h.1.ln_1.bias"]])
sd["transformer.h.1.ln_1.weight"], sd["transformer.h.1.ln_1.bias"] = shared[:C], shared[C:]
torch.save(sd, os.path.join(here, "zip", "pytorch_model.bin"))

torch.save(state_dict("", torch.float16, torch.uint8), os.path.join(here, "legacy", "pytorch_model.bin"),
           _use_new_zipfile_serialization=False)
