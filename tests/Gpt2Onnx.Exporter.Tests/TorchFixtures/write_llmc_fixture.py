"""Writes the llm.c fixture of LlmcCheckpointTests with PyTorch (Debian's python3-torch 1.13): a tiny GPT-2
(GPT-2's 50257-token vocabulary padded to 50304, 16 positions, width 8, 2 layers, 1 head, biases, tanh GELU)
in llm.c's model file format, version 5 (bfloat16): 256 little-endian int32 (magic 20240326, version,
max_seq_len, vocab_size, num_layers, num_heads, channels, padded_vocab_size, zeros), then wte (Vp, C),
wpe (T, C), and each per-layer tensor for all layers in turn (ln_1 weight and bias, c_attn weight (3C, C)
and bias, attn c_proj weight (C, C) and bias, ln_2 weight and bias, c_fc weight (4C, C) and bias, mlp c_proj
weight (C, 4C) and bias), then ln_f weight and bias. Also what PyTorch computes from those bfloat16 weights
for a fixed token sequence (llmc/expected_logits.json): each position's argmax and its logits at 50 ids.

Run: /usr/bin/python3 tests/Gpt2Onnx.Exporter.Tests/TorchFixtures/write_llmc_fixture.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

V, VP, T, C, L, H = 50257, 50304, 16, 8, 2, 1
torch.manual_seed(9)


def rand(*shape, gain=False):  # bfloat16 values, the exact weights both sides compute with
    t = torch.randn(*shape) * 0.5 + (1.0 if gain else 0.0)
    return t.to(torch.bfloat16).to(torch.float32)


p = {"wte": rand(V, C), "wpe": rand(T, C), "lnfw": rand(C, gain=True), "lnfb": rand(C)}
layers = [dict(ln1w=rand(C, gain=True), ln1b=rand(C), qkvw=rand(3 * C, C), qkvb=rand(3 * C), projw=rand(C, C), projb=rand(C),
               ln2w=rand(C, gain=True), ln2b=rand(C), fcw=rand(4 * C, C), fcb=rand(4 * C), fcprojw=rand(C, 4 * C), fcprojb=rand(C))
          for _ in range(L)]


def gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(idx):
    S = len(idx)
    x = p["wte"][idx] + p["wpe"][:S]
    for w in layers:
        h = F.layer_norm(x, (C,), w["ln1w"], w["ln1b"], 1e-5)
        q, k, v = (h @ w["qkvw"].T + w["qkvb"]).split(C, dim=1)
        att = (q @ k.T / math.sqrt(C // H)).masked_fill(torch.ones(S, S, dtype=torch.bool).tril().logical_not(), float("-inf")).softmax(-1)
        x = x + (att @ v) @ w["projw"].T + w["projb"]
        h = F.layer_norm(x, (C,), w["ln2w"], w["ln2b"], 1e-5)
        x = x + gelu_tanh(h @ w["fcw"].T + w["fcb"]) @ w["fcprojw"].T + w["fcprojb"]
    return F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], 1e-5) @ p["wte"].T


here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "llmc")
os.makedirs(here, exist_ok=True)
header = torch.zeros(256, dtype=torch.int32)
header[:8] = torch.tensor([20240326, 5, T, V, L, H, C, VP])
tensors = [torch.cat([p["wte"], torch.zeros(VP - V, C)]), p["wpe"]]
for key in ["ln1w", "ln1b", "qkvw", "qkvb", "projw", "projb", "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb"]:
    tensors += [w[key] for w in layers]
tensors += [p["lnfw"], p["lnfb"]]
with open(os.path.join(here, "model_00000010.bin"), "wb") as f:
    f.write(header.numpy().tobytes())
    for t in tensors:
        f.write(t.to(torch.bfloat16).contiguous().view(torch.int16).numpy().tobytes())

tokens = [464, 2068, 7586, 21831, 18045, 625, 262, 16931]
with torch.no_grad():
    logits = forward(torch.tensor(tokens))
ids = list(range(0, V, V // 50))[:50]
with open(os.path.join(here, "expected_logits.json"), "w") as f:
    json.dump({"tokens": tokens, "argmax": logits.argmax(-1).tolist(), "ids": ids, "logits": logits[:, ids].tolist()}, f)
