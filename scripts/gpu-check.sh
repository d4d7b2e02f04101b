#!/usr/bin/env bash
# The runtime on ONNX Runtime's CUDA provider, checked on a machine with an NVIDIA GPU. Two steps:
#   scripts/gpu-check.sh --package      here (with .NET): publishes gpt2-export and gpt2-run self-contained for
#                                       linux-x64 with Microsoft.ML.OnnxRuntime.Gpu.Linux into out/gpu-check/publish,
#                                       and splits it into compressed chunks of 48 MiB (out/gpu-check/chunks)
#   scripts/gpu-check.sh --run [DIR]    on any Linux machine with an NVIDIA GPU, CUDA 13 and a Python with torch and
#                                       safetensors (no .NET): reassembles DIR's chunks (default out/gpu-check/chunks),
#                                       makes a tiny and a 124M random GPT-2 checkpoint, exports them, and prints the
#                                       CPU/CUDA comparisons (greedy ids, logits) and the CUDA decode speed
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$ROOT/out/gpu-check"
fail() { printf 'gpu-check: error: %s\n' "$*" >&2; exit 1; }

package() {
  command -v dotnet >/dev/null || fail "the .NET SDK is missing: --package runs where the project builds (scripts/setup.sh)"
  rm -rf "$WORK/publish" "$WORK/chunks"; mkdir -p "$WORK/publish" "$WORK/chunks"
  for project in runtime/Gpt2Onnx.Runtime.Cli exporter/Gpt2Onnx.Exporter.Cli; do
    dotnet publish "$ROOT/$project" -c Release -r linux-x64 --self-contained -p:OnnxRuntimeGpu=true \
      -o "$WORK/publish" --nologo -v quiet >&2 || fail "dotnet publish $project failed (see above)"
  done
  cp -r "$ROOT/models/gpt2-tokenizer" "$WORK/publish/gpt2-tokenizer"
  cp "$ROOT/scripts/gpu-check.sh" "$WORK/publish/"
  tar -C "$WORK" -czf - publish | split -b 48m -d - "$WORK/chunks/part-"
  echo "gpu-check: $(ls "$WORK/chunks" | wc -l) chunks in out/gpu-check/chunks ($(du -sh "$WORK/chunks" | cut -f1)); carry them, then run --run" >&2
}

run() {
  local chunks="${1:-$WORK/chunks}"
  command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1 \
    || fail "no NVIDIA GPU here (nvidia-smi finds none): run --run on a machine with an NVIDIA GPU, CUDA 13 and cuDNN 9"
  [ -n "$(ls "$chunks"/part-* 2>/dev/null)" ] || fail "no chunks in $chunks: run scripts/gpu-check.sh --package first and carry them"
  local python; python=$(command -v python3) || fail "python3 is missing: --run needs a Python with torch and safetensors"
  "$python" -c 'import torch, safetensors' 2>/dev/null || fail "$python lacks torch or safetensors: install them"
  # CUDA 13's and cuDNN's libraries, where pip's nvidia-* packages put them.
  local libs; libs=$("$python" -c 'import glob, os, nvidia; print(":".join(sorted(glob.glob(os.path.join(os.path.dirname(list(nvidia.__path__)[0]), "nvidia", "*", "lib")))))' 2>/dev/null || true)
  export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local work; work=$(mktemp -d)
  cat "$chunks"/part-* | tar -C "$work" -xzf -
  local bin="$work/publish"
  echo "== $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader)"
  "$bin/gpt2-run" info
  for size in tiny 124m; do
    "$python" - "$work/$size" "$size" "$bin/gpt2-tokenizer" <<'PY'
import json, os, shutil, sys, torch
from safetensors.torch import save_file
out, size, tokenizer = sys.argv[1:4]
layers, embd, heads = (2, 64, 4) if size == "tiny" else (12, 768, 12)
vocab, ctx = 50257, 1024
torch.manual_seed(0)
w = {"wte.weight": torch.randn(vocab, embd) * 0.02, "wpe.weight": torch.randn(ctx, embd) * 0.01,
     "ln_f.weight": torch.ones(embd), "ln_f.bias": torch.zeros(embd)}
for i in range(layers):
    p = f"h.{i}."
    for name, shape in [("attn.c_attn", (embd, 3 * embd)), ("attn.c_proj", (embd, embd)),
                        ("mlp.c_fc", (embd, 4 * embd)), ("mlp.c_proj", (4 * embd, embd))]:
        w[p + name + ".weight"] = torch.randn(*shape) * 0.02
        w[p + name + ".bias"] = torch.randn(shape[1]) * 0.01
    for ln in ("ln_1", "ln_2"):
        w[p + ln + ".weight"] = 1 + torch.randn(embd) * 0.05
        w[p + ln + ".bias"] = torch.randn(embd) * 0.01
os.makedirs(out, exist_ok=True)
save_file({k: v.contiguous() for k, v in w.items()}, os.path.join(out, "model.safetensors"))
json.dump({"model_type": "gpt2", "vocab_size": vocab, "n_positions": ctx, "n_embd": embd, "n_layer": layers, "n_head": heads,
           "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new", "bos_token_id": 50256, "eos_token_id": 50256},
          open(os.path.join(out, "config.json"), "w"))
for f in ("vocab.json", "merges.txt"):
    shutil.copy(os.path.join(tokenizer, f), out)
PY
    "$bin/gpt2-export" --checkpoint "$work/$size" --out "$work/$size-portable" >/dev/null
    "$bin/gpt2-export" --checkpoint "$work/$size" --out "$work/$size-fp16" --variant fused --precision fp16 >/dev/null
    compare "$bin" "$work" "$size"
  done
  speed "$bin" "$work/124m-fp16"
  rm -rf "$work"
}

# CPU against CUDA for one size: the portable fp32 graph's greedy ids and logits, and the fused fp16 graph's
# top-1 agreement with the CPU's fp32 logits, over every position of a 512-token prompt.
compare() {
  local bin="$1" work="$2" size="$3"
  local greedy="464,2068,7586,21831,18045,625,262,16931,3290,13"
  local prompt; prompt=$(python3 -c 'import random; random.seed(7); print(",".join(str(random.randrange(50257)) for _ in range(512)))')
  ids_of() { "$bin/gpt2-run" generate --model "$1" --prompt-ids "$greedy" --greedy --max-new-tokens 64 --device "$2" --json \
               | python3 -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["ids"])))'; }
  "$bin/gpt2-run" logits --model "$work/$size-portable" --prompt-ids "$prompt" --device cpu --out "$work/$size-cpu.npy"
  "$bin/gpt2-run" logits --model "$work/$size-portable" --prompt-ids "$prompt" --device cuda:0 --out "$work/$size-cuda.npy"
  "$bin/gpt2-run" logits --model "$work/$size-fp16" --prompt-ids "$prompt" --device cuda:0 --out "$work/$size-fp16.npy"
  python3 - "$work" "$size" "$(ids_of "$work/$size-portable" cpu)" "$(ids_of "$work/$size-portable" cuda:0)" <<'PY'
import sys, numpy as np
work, size, cpu_ids, cuda_ids = sys.argv[1:]
cpu, cuda, fp16 = (np.load(f"{work}/{size}-{k}.npy").astype(np.float64) for k in ("cpu", "cuda", "fp16"))
top1 = (cpu.argmax(1) == fp16.argmax(1)).mean()
print(f"== {size}: portable fp32, CPU vs CUDA: greedy ids (64 new) {'identical' if cpu_ids == cuda_ids else 'DIFFER'}; "
      f"max |dlogit| {np.abs(cpu - cuda).max():.2e} over {cpu.shape[0]} positions (target <= 1e-3)")
print(f"   fused fp16 on CUDA vs CPU fp32: top-1 agreement {top1:.2%} (target >= 99%); max |dlogit| {np.abs(cpu - fp16).max():.3f}")
PY
}

# Decode speed on CUDA at batch 1, 16 and 64, and the continuous-batching job.
speed() {
  local bin="$1" model="$2"
  for batch in 1 16 64; do
    "$bin/gpt2-run" bench --model "$model" --device cuda:0 --batch $batch --prompt-len 32 --new-tokens 128 --json \
      | python3 -c "import json,sys; r=json.load(sys.stdin); print(f'== decode, fused fp16, batch $batch: {r[\"tokens_per_s\"]:.0f} tokens/s, step p50 {r[\"token_ms_p50\"]:.2f} ms')"
  done
  python3 -c "import json; [print(json.dumps({'id': str(i), 'prompt': 'The history of the city ' * (1 + i % 5), 'max_new_tokens': 64 + (i * 37) % 128})) for i in range(256)]" >"$model/rows.jsonl"
  "$bin/gpt2-run" batch --model "$model" --device cuda:0 --input "$model/rows.jsonl" --output "$model/out.jsonl" --max-batch 64 --json \
    | python3 -c "import json,sys; r=json.load(sys.stdin); print('== batch job (256 rows, continuous, max batch 64):', {k: r[k] for k in r if 'token' in k or 'second' in k})"
}

case "${1:-}" in
  --package) package ;;
  --run) shift; run "$@" ;;
  *) echo "usage: scripts/gpu-check.sh --package | --run [CHUNKS_DIR]" >&2; exit 2 ;;
esac
