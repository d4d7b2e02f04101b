"""The peer graphs for the runtime benchmark: a checkpoint folder (config.json + model.safetensors, our
trainer's or any HF-layout GPT-2) loaded into a PyTorch GPT-2 with a key/value cache and exported by
PyTorch's own torch.onnx.export with Optimum's names (input_ids, attention_mask, position_ids,
past_key_values.N.key/value -> logits, present.N.key/value).

Two ways of writing the same GPT-2 in PyTorch:
  transformers  the computation as Hugging Face transformers' GPT-2 (the model Optimum exports, for the
                PyTorch 1.13 era: eager attention) performs it: Conv1D layers as addmm on a flattened
                input, heads split by view+permute, a stored 1024x1024 causal mask sliced per step and applied
                with where(), the attention mask turned into (1 - mask) * lowest and added, GELU written out
                with pow and tanh, the LM head tied to the token embedding; opset 13 (Optimum's GPT-2 default).
  lean          written the way our own exporter writes its graph (one boolean mask built once, PyTorch's
                gelu(approximate="tanh"), plain matmuls); opset 14.
The transformers package is not available here, so the first is written from its documented structure.
Usage: torch_export_gpt2.py CHECKPOINT_DIR OUT.onnx [transformers|lean]"""
import json, math, struct, sys
import numpy as np
import torch
import torch.nn.functional as F

checkpoint, out = sys.argv[1], sys.argv[2]
structure = sys.argv[3] if len(sys.argv) > 3 else "transformers"
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

class LeanGpt2WithCache(torch.nn.Module):
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

class Conv1D(torch.nn.Module):
    """transformers' Conv1D: a linear layer with a (in, out) weight, applied by addmm to the input flattened to 2-D."""
    def __init__(self, weight, bias):
        super().__init__()
        self.weight, self.bias = torch.nn.Parameter(weight), torch.nn.Parameter(bias)
    def forward(self, x):
        shape = x.size()[:-1] + (self.weight.shape[1],)
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(shape)

def layer_norm(prefix):
    norm = torch.nn.LayerNorm(C, eps=eps)
    norm.weight, norm.bias = torch.nn.Parameter(w[prefix + ".weight"]), torch.nn.Parameter(w[prefix + ".bias"])
    return norm

def gelu_written_out(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

class Attention(torch.nn.Module):
    def __init__(self, p):
        super().__init__()
        context = cfg.get("n_positions", 1024)
        self.register_buffer("causal", torch.tril(torch.ones(context, context, dtype=torch.bool)).view(1, 1, context, context))
        self.c_attn = Conv1D(w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"])
        self.c_proj = Conv1D(w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"])

    def heads(self, x):
        return x.view(x.size()[:-1] + (H, C // H)).permute(0, 2, 1, 3)

    def forward(self, x, past_key, past_value, additive_mask):
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = self.heads(q), self.heads(k), self.heads(v)
        k, v = torch.cat((past_key, k), dim=-2), torch.cat((past_value, v), dim=-2)
        scores = torch.matmul(q, k.transpose(-1, -2)) / torch.full([], v.size(-1) ** 0.5, dtype=q.dtype)
        queries, keys = q.size(-2), k.size(-2)
        causal = self.causal[:, :, keys - queries:keys, :keys]
        scores = torch.where(causal, scores, torch.full([], torch.finfo(scores.dtype).min, dtype=scores.dtype))
        probabilities = torch.softmax(scores + additive_mask, dim=-1)
        y = torch.matmul(probabilities, v).permute(0, 2, 1, 3).contiguous()
        return self.c_proj(y.view(y.size()[:-2] + (C,))), k, v

class Block(torch.nn.Module):
    def __init__(self, i):
        super().__init__()
        p = f"h.{i}."
        self.ln_1, self.ln_2 = layer_norm(p + "ln_1"), layer_norm(p + "ln_2")
        self.attn = Attention(p)
        self.c_fc = Conv1D(w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"])
        self.c_proj = Conv1D(w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"])

    def forward(self, x, past_key, past_value, additive_mask):
        y, k, v = self.attn(self.ln_1(x), past_key, past_value, additive_mask)
        x = y + x
        return x + self.c_proj(gelu_written_out(self.c_fc(self.ln_2(x)))), k, v

class TransformersGpt2WithCache(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding.from_pretrained(w["wte.weight"], freeze=False)
        self.wpe = torch.nn.Embedding.from_pretrained(w["wpe.weight"], freeze=False)
        self.blocks = torch.nn.ModuleList(Block(i) for i in range(L))
        self.ln_f = layer_norm("ln_f")
        self.lm_head = torch.nn.Linear(C, w["wte.weight"].shape[0], bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, input_ids, attention_mask, position_ids, *past):
        shape = input_ids.size()
        input_ids, position_ids = input_ids.view(-1, shape[-1]), position_ids.view(-1, shape[-1])
        mask = attention_mask.view(shape[0], -1)[:, None, None, :].to(torch.float32)
        additive_mask = (1.0 - mask) * torch.finfo(torch.float32).min
        x = self.wte(input_ids) + self.wpe(position_ids)
        presents = []
        for i, block in enumerate(self.blocks):
            x, k, v = block(x, past[2 * i], past[2 * i + 1], additive_mask)
            presents += [k, v]
        x = self.ln_f(x).view(shape + (C,))
        return (self.lm_head(x), *presents)

model, opset = {"transformers": (TransformersGpt2WithCache, 13), "lean": (LeanGpt2WithCache, 14)}[structure]
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
    torch.onnx.export(model().eval(), inputs, out, input_names=["input_ids", "attention_mask", "position_ids", *past_names],
                      output_names=["logits", *present_names], dynamic_axes=dynamic, opset_version=opset)
print(out)
