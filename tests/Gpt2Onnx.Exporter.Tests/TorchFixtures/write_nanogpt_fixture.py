"""Writes the nanoGPT fixture of NanoGptCheckpointTests with PyTorch (Debian's python3-torch 1.13): a
checkpoint laid out as nanoGPT's train.py saves one (ckpt.pt: model, optimizer, model_args, iter_num,
best_val_loss, config), for a tiny GPT written here in nanoGPT's architecture (nn.Linear layers, exact GELU,
a head tied to wte, bias=False, the _orig_mod. prefix torch.compile adds) with GPT-2's 50257-token
vocabulary, and what this model computes for a fixed token sequence (nanogpt/expected_logits.json): each
position's argmax and its logits at 50 fixed ids, which the exported ONNX graph must reproduce. The optimizer
state has nanoGPT's structure but belongs to a 3-element parameter, to keep the file small.

Run: /usr/bin/python3 tests/Gpt2Onnx.Exporter.Tests/TorchFixtures/write_nanogpt_fixture.py
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

V, T, C, L, H = 50257, 16, 8, 2, 1
torch.manual_seed(5)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, elementwise_affine=True)
        self.ln_1.bias = None
        self.attn = nn.Module()
        self.attn.c_attn = nn.Linear(C, 3 * C, bias=False)
        self.attn.c_proj = nn.Linear(C, C, bias=False)
        self.ln_2 = nn.LayerNorm(C)
        self.ln_2.bias = None
        self.mlp = nn.Module()
        self.mlp.c_fc = nn.Linear(C, 4 * C, bias=False)
        self.mlp.c_proj = nn.Linear(4 * C, C, bias=False)

    def forward(self, x):
        B, S, _ = x.shape
        h = F.layer_norm(x, (C,), self.ln_1.weight, None, 1e-5)
        q, k, v = self.attn.c_attn(h).split(C, dim=2)
        q, k, v = (t.view(B, S, H, C // H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        att = att.masked_fill(torch.ones(S, S, dtype=torch.bool).tril().logical_not(), float("-inf")).softmax(-1)
        x = x + self.attn.c_proj((att @ v).transpose(1, 2).reshape(B, S, C))
        h = F.layer_norm(x, (C,), self.ln_2.weight, None, 1e-5)
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(h)))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(wte=nn.Embedding(V, C), wpe=nn.Embedding(T, C),
                                              h=nn.ModuleList([Block() for _ in range(L)]), ln_f=nn.LayerNorm(C)))
        self.transformer.ln_f.bias = None
        self.lm_head = nn.Linear(C, V, bias=False)
        self.transformer.wte.weight = self.lm_head.weight
        for p in self.parameters():  # gains away from 1, so every weight shows in the logits
            nn.init.normal_(p, mean=0.0, std=0.5)

    def forward(self, idx):
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(idx.shape[1]))
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(F.layer_norm(x, (C,), self.transformer.ln_f.weight, None, 1e-5))


model = GPT()
tokens = torch.tensor([[464, 2068, 7586, 21831, 18045, 625, 262, 16931]])
with torch.no_grad():
    logits = model(tokens)[0]
extra = nn.Parameter(torch.zeros(3))
optimizer = torch.optim.AdamW([extra], lr=1e-3)
extra.grad = torch.ones(3)
optimizer.step()
ids = list(range(0, V, V // 50))[:50]

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nanogpt")
os.makedirs(here, exist_ok=True)
state = {"_orig_mod." + k: v for k, v in model.state_dict().items()}
checkpoint = {
    "model": state,
    "optimizer": optimizer.state_dict(),
    "model_args": dict(n_layer=L, n_head=H, n_embd=C, block_size=T, bias=False, vocab_size=V, dropout=0.0),
    "iter_num": 1,
    "best_val_loss": torch.tensor(3.25),
    "config": {"dataset": "fixture", "learning_rate": 1e-3, "compile": True, "dtype": "float32"},
}
torch.save(checkpoint, os.path.join(here, "ckpt.pt"))
with open(os.path.join(here, "expected_logits.json"), "w") as f:
    json.dump({"tokens": tokens[0].tolist(), "argmax": logits.argmax(-1).tolist(), "ids": ids,
               "logits": logits[:, ids].tolist()}, f)
