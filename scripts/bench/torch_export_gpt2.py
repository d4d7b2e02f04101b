"""The peer graph for the runtime benchmark: a checkpoint folder (config.json + model.safetensors, our
trainer's or any HF-layout GPT-2) loaded into a plain PyTorch GPT-2 with a key/value cache and exported
by PyTorch's own torch.onnx.export with Optimum's names (input_ids, attention_mask, position_ids,
past_key_values.N.key/value -> logits, present.N.key/value).
Usage: torch_export_gpt2.py CHECKPOINT_DIR OUT.onnx"""
import json, math, struct, sys
import numpy as np
import torch
import torch.nn.functional as F

checkpoint, out = sys.argv[1], sys.argv[2]
cfg = json.load(open(f"{checkpoint}/config.json"))
L, C, H = cfg["n_layer"], cfg["n_embd"], cfg["n_head"]
eps = cfg.get("layer_norm_epsilon", 1e-5)

def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    kinds = {"F32": np.float32, "F16": np.float16}
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__": continue
        a, b = info["data_offsets"]
        array = np.frombuffer(data[a:b], dtype=kinds[info["dtype"]]).reshape(info["shape"]).astype(np.float32)
        tensors[name.removeprefix("transformer.")] = torch.from_numpy(array.copy())
    return tensors

w = load_safetensors(f"{checkpoint}/model.safetensors")

class Gpt2WithCache(torch.nn.Module):
    def forward(self, input_ids, attention_mask, position_ids, *past):
        S, T = input_ids.shape[1], attention_mask.shape[1]
        x = F.embedding(input_ids, w["wte.weight"]) + F.embedding(position_ids, w["wpe.weight"])
        queries = torch.arange(S) + (T - S)
        allowed = (torch.arange(T)[None, :] <= queries[:, None])[None, None] & attention_mask[:, None, None, :].bool()
        bias = torch.where(allowed, torch.tensor(0.0), torch.tensor(torch.finfo(torch.float32).min))
        presents = []
        for i in range(L):
            p = f"h.{i}."
            h = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
            q, k, v = (h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]).split(C, dim=2)
            q, k, v = (t.reshape(t.shape[0], t.shape[1], H, C // H).transpose(1, 2) for t in (q, k, v))
            k = torch.cat([past[2 * i], k], dim=2)
            v = torch.cat([past[2 * i + 1], v], dim=2)
            presents += [k, v]
            att = F.softmax(q @ k.transpose(-1, -2) / math.sqrt(C // H) + bias, dim=-1)
            y = (att @ v).transpose(1, 2).reshape(x.shape[0], x.shape[1], C)
            x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            h = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
            h = F.gelu(h @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh")
            x = x + h @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        x = F.layer_norm(x, (C,), w["ln_f.weight"], w["ln_f.bias"], eps)
        return (x @ w["wte.weight"].t(), *presents)

B, S, P = 1, 3, 2
past = [torch.zeros(B, H, P, C // H) for _ in range(2 * L)]
inputs = (torch.zeros(B, S, dtype=torch.long), torch.ones(B, P + S, dtype=torch.long), torch.arange(P, P + S)[None], *past)
past_names = [f"past_key_values.{i}.{kind}" for i in range(L) for kind in ("key", "value")]
present_names = [f"present.{i}.{kind}" for i in range(L) for kind in ("key", "value")]
dynamic = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "attention_mask": {0: "batch_size", 1: "total_sequence_length"},
           "position_ids": {0: "batch_size", 1: "sequence_length"}, "logits": {0: "batch_size", 1: "sequence_length"}}
dynamic.update({n: {0: "batch_size", 2: "past_sequence_length"} for n in past_names})
dynamic.update({n: {0: "batch_size", 2: "total_sequence_length"} for n in present_names})
with torch.no_grad():
    torch.onnx.export(Gpt2WithCache(), inputs, out, input_names=["input_ids", "attention_mask", "position_ids", *past_names],
                      output_names=["logits", *present_names], dynamic_axes=dynamic, opset_version=14)
print(out)
