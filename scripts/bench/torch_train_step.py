"""The peer for the training-step benchmark: the same GPT-2 step as `gpt2-train bench`, written in
PyTorch 1.13 (Debian's python3-torch), eager mode. GPT-2's Conv1D layout, explicit causal attention
(1.13 has no fused kernel), gelu tanh, tied LM head, dropout 0.1, cross entropy, backward, gradient
clipping and torch.optim.AdamW. Prints one JSON line."""
import json, math, sys, time
import torch
import torch.nn.functional as F

n_layer, n_embd, n_head, vocab, batch, context, steps, threads = (int(a) for a in sys.argv[1:9])
torch.set_num_threads(threads)
torch.manual_seed(0)
C, H = n_embd, n_head

def param(*shape, std=0.02, fill=None):
    t = torch.empty(*shape)
    if fill is None: t.normal_(0, std)
    else: t.fill_(fill)
    return t.requires_grad_()

params = {"wte": param(vocab, C), "wpe": param(1024, C), "ln_f.w": param(C, fill=1.0), "ln_f.b": param(C, fill=0.0)}
for i in range(n_layer):
    p = f"h{i}."
    params.update({p + "ln1.w": param(C, fill=1.0), p + "ln1.b": param(C, fill=0.0),
                   p + "attn.w": param(C, 3 * C), p + "attn.b": param(3 * C, fill=0.0),
                   p + "proj.w": param(C, C, std=0.02 / math.sqrt(2 * n_layer)), p + "proj.b": param(C, fill=0.0),
                   p + "ln2.w": param(C, fill=1.0), p + "ln2.b": param(C, fill=0.0),
                   p + "fc.w": param(C, 4 * C), p + "fc.b": param(4 * C, fill=0.0),
                   p + "mlp.w": param(4 * C, C, std=0.02 / math.sqrt(2 * n_layer)), p + "mlp.b": param(C, fill=0.0)})

def conv1d(x, w, b):
    shape = x.shape[:-1] + (w.shape[1],)
    return torch.addmm(b, x.reshape(-1, x.shape[-1]), w).view(shape)

mask = torch.ones(context, context, dtype=torch.bool).triu(1)

def forward(idx, targets):
    B, T = idx.shape
    x = F.dropout(F.embedding(idx, params["wte"]) + F.embedding(torch.arange(T), params["wpe"]), 0.1, True)
    for i in range(n_layer):
        p = f"h{i}."
        h = F.layer_norm(x, (C,), params[p + "ln1.w"], params[p + "ln1.b"], 1e-5)
        q, k, v = conv1d(h, params[p + "attn.w"], params[p + "attn.b"]).split(C, dim=2)
        q, k, v = (t.view(B, T, H, C // H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
        att = F.dropout(F.softmax(att.masked_fill(mask[:T, :T], torch.finfo(att.dtype).min), dim=-1), 0.1, True)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + F.dropout(conv1d(y, params[p + "proj.w"], params[p + "proj.b"]), 0.1, True)
        h = F.layer_norm(x, (C,), params[p + "ln2.w"], params[p + "ln2.b"], 1e-5)
        h = F.gelu(conv1d(h, params[p + "fc.w"], params[p + "fc.b"]), approximate="tanh")
        x = x + F.dropout(conv1d(h, params[p + "mlp.w"], params[p + "mlp.b"]), 0.1, True)
    x = F.layer_norm(x, (C,), params["ln_f.w"], params["ln_f.b"], 1e-5)
    logits = F.linear(x, params["wte"])
    return F.cross_entropy(logits.view(-1, vocab), targets.reshape(-1))

decay = [p for p in params.values() if p.dim() >= 2]
no_decay = [p for p in params.values() if p.dim() < 2]
optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                              lr=3e-4, betas=(0.9, 0.95))
times = []
for step in range(steps + 2):
    tokens = torch.randint(vocab, (batch, context + 1))
    start = time.perf_counter()
    loss = forward(tokens[:, :-1], tokens[:, 1:])
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if step >= 2: times.append(time.perf_counter() - start)
times.sort()
print(json.dumps({"step_ms": times[len(times) // 2] * 1000, "step_ms_all": [t * 1000 for t in times],
                  "tokens_per_s": batch * context / times[len(times) // 2], "torch": torch.__version__, "threads": threads}))
