#!/usr/bin/env bash
# Benchmarks, each side by side with the peer it must beat, in the same run (these machines are noisy;
# only ratios hold). Usage: scripts/bench.sh [tokenizer|torch|runtime|genai|batch|serve|bf16|beam|memory|adafactor ...]   (no argument: every benchmark;
# BENCH_BATCH=N sets the batch job's batch size, 128 by default; BENCH_ROUNDS=N the rounds, 3 for each; BENCH_PROCESSES=N the runtime benchmark's processes per batch size, 3;
# BENCH_WORK=DIR the folder of models and data, .deps/bench by default)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" >&2
RUN="$ROOT/scripts/gpt2-run"
WORK="${BENCH_WORK:-$ROOT/.deps/bench}"
mkdir -p "$WORK"

json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# The Brown corpus as plain text (the tags after each word removed): about 6.2 MB.
brown_text() {
  local out="$WORK/brown.txt"
  [ -f "$out" ] || cat "$ROOT"/.deps/data/brown/c[a-r][0-9][0-9] | sed -E 's#/[^ /\t]+([ \t]|$)#\1#g' >"$out"
  printf '%s' "$out"
}

bench_tokenizer() {
  local text; text=$(brown_text)
  local files=("$ROOT"/.deps/data/brown/c[a-r][0-9][0-9])
  echo "== tokenizer: GPT-2 BPE on the Brown corpus ($(du -m "$text" | cut -f1) MB), fastest of 5 runs"
  local cold ours peer one all
  cold=$("$RUN" tokenize --tokenizer "$ROOT/models/gpt2-tokenizer" --input "$text" --json --repeat 1)
  ours=$("$RUN" tokenize --tokenizer "$ROOT/models/gpt2-tokenizer" --input "$text" --json --repeat 5)
  peer=$(NODE_PATH="$ROOT/.deps/node/node_modules" node "$ROOT/scripts/bench/tiktoken-throughput.js" "$text" 5)
  one=$("$RUN" tokenize --tokenizer "$ROOT/models/gpt2-tokenizer" --input "${files[@]}" --json --repeat 5 --threads 1)
  all=$("$RUN" tokenize --tokenizer "$ROOT/models/gpt2-tokenizer" --input "${files[@]}" --json --repeat 5 --threads 0)
  # A hostile prompt: one 50,000-letter word is one pre-tokenizer piece, which a scan-per-merge BPE takes in n² time.
  local word="$WORK/long-word.txt" long_ours long_peer
  [ -f "$word" ] || python3 -c "import random; random.seed(1); print(''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(50000)), end='')" >"$word"
  long_ours=$("$RUN" tokenize --tokenizer "$ROOT/models/gpt2-tokenizer" --input "$word" --json --repeat 3)
  long_peer=$(NODE_PATH="$ROOT/.deps/node/node_modules" node "$ROOT/scripts/bench/tiktoken-throughput.js" "$word" 1)
  # Microsoft.ML.Tokenizers' TiktokenTokenizer and BpeTokenizer beside ours, in one process, line by line.
  dotnet build "$ROOT/scripts/bench/tokenizer-bench" -c Release --nologo -v q >&2 \
    || { echo "bench: tokenizer-bench did not build" >&2; exit 1; }
  local library
  library=$(dotnet "$ROOT/scripts/bench/tokenizer-bench/bin/Release/net10.0/tokenizer-bench.dll" \
    "$ROOT/models/gpt2-tokenizer" "$text" 5)
  python3 - "$cold" "$ours" "$peer" "$one" "$all" "$long_ours" "$long_peer" "$library" <<'PY'
import json, sys
cold, ours, peer, one, all_, long_ours, long_peer, library = (json.loads(a) for a in sys.argv[1:])
assert long_ours["tokens"] == long_peer["tokens"], f"token counts differ on the long word: ours {long_ours['tokens']}, tiktoken {long_peer['tokens']}"
assert ours["tokens"] == peer["tokens"], f"token counts differ: ours {ours['tokens']}, tiktoken {peer['tokens']}"
print(f"  {'':34} {'MB/s':>8} {'tokens':>10}")
print(f"  {'Gpt2Onnx, 1 thread (first run)':34} {cold['mb_per_s']:8.1f} {cold['tokens']:10d}")
print(f"  {'Gpt2Onnx, 1 thread (fresh cache)':34} {ours['mb_per_s']:8.1f} {ours['tokens']:10d}")
print(f"  {'tiktoken (npm, WASM), 1 thread':34} {peer['mb_per_s']:8.1f} {peer['tokens']:10d}")
print(f"  ratio Gpt2Onnx / tiktoken: {ours['mb_per_s'] / peer['mb_per_s']:.1f}x (target: at least 10 MB/s)")
print(f"  500 documents: {one['mb_per_s']:.1f} MB/s on 1 thread, {all_['mb_per_s']:.1f} MB/s on {all_['threads']} threads "
      f"({all_['mb_per_s'] / one['mb_per_s']:.2f}x)")
print(f"  one 50,000-letter word ({long_ours['tokens']} tokens): {long_ours['seconds'] * 1000:.0f} ms, tiktoken {long_peer['seconds'] * 1000:.0f} ms "
      f"({long_peer['seconds'] / long_ours['seconds']:.0f}x)")
lib = library
print(f"  Microsoft.ML.Tokenizers' contract, line by line ({lib['lines']} lines, {lib['mismatches']} with other ids), "
      f"1 thread, fastest of 5:")
print(f"    {'Gpt2Onnx BpeTokenizer (span API)':32} {lib['ours']:8.1f} MB/s, {lib['ours_bytes_per_line']:.0f} bytes a line")
print(f"    {'Microsoft.ML TiktokenTokenizer':32} {lib['tiktoken']:8.1f} MB/s")
print(f"    {'Microsoft.ML BpeTokenizer':32} {lib['bpe']:8.1f} MB/s")
print(f"    ours / the faster: {lib['ours'] / max(lib['tiktoken'], lib['bpe']):.2f}x (target: at least 2.5x, 0 bytes a line)")
assert lib["mismatches"] == 0, f"{lib['mismatches']} lines encode to other ids than Microsoft.ML.Tokenizers'"
PY
}

# PyTorch 1.13 from Debian, the peer of the training benchmarks (not needed by anything else).
require_python_torch() {
  /usr/bin/python3 -c 'import torch' 2>/dev/null && return
  echo "bench: installing Debian's python3-torch (the PyTorch 1.13 peer)" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
  else sudo apt-get install -y -qq --no-install-recommends python3-torch >/dev/null; fi
}

bench_torch() {
  require_python_torch
  local threads; threads=$(nproc)
  echo "== trainer: GPT-2 training step (6 layers, 384 wide, 6 heads, context 256, batch 8, vocab 50257, AdamW), $threads threads"
  local rows=()
  for round in 1 2 3; do   # interleaved, so every side sees the same machine state
    rows+=("$("$ROOT/scripts/gpt2-train" bench --config small-6x384 --batch-size 8 --context 256 --steps 4 --threads "$threads" --json)")
    rows+=("$("$ROOT/scripts/gpt2-train" bench --config small-6x384 --batch-size 8 --context 256 --steps 4 --threads "$threads" --bf16 --json)")
    rows+=("$(/usr/bin/python3 "$ROOT/scripts/bench/torch_train_step.py" 6 384 6 50257 8 256 4 "$threads")")
    # The same peer with the heap setting our trainer makes for itself (Torch/TensorHeap.cs), for a like-for-like line.
    rows+=("$(GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=2147483647 \
      /usr/bin/python3 "$ROOT/scripts/bench/torch_train_step.py" 6 384 6 50257 8 256 4 "$threads")")
  done
  python3 - "${rows[@]}" <<'PY'
import json, sys, statistics
rows = [json.loads(a) for a in sys.argv[1:]]
fp32, bf16, peer, kept = rows[0::4], rows[1::4], rows[2::4], rows[3::4]
mean = lambda rs, k: statistics.mean(r[k] for r in rs)
o, b, p = mean(fp32, "step_ms"), mean(bf16, "step_ms"), mean(peer, "step_ms")
each = lambda rs: ", ".join(f"{r['step_ms']:.0f}" for r in rs)
print(f"  step, C# on TorchSharp {fp32[0]['libtorch']}, fp32:            {o:6.0f} ms  ({each(fp32)})")
print(f"  step, C# on TorchSharp, --bf16 (fp32 master weights): {b:6.0f} ms  ({each(bf16)})")
print(f"  step, PyTorch {peer[0]['torch']} (Python), fp32:            {p:6.0f} ms  ({each(peer)})")
print(f"  speed vs PyTorch fp32: fp32 {p / o:.2f}x (target 1.15x), --bf16 {p / b:.2f}x (target 1.6x)")
k = mean(kept, "step_ms")
print(f"  step, PyTorch, fp32, with our heap setting (freed memory kept): {k:6.0f} ms  ({each(kept)})")
print(f"  speed vs that: fp32 {k / o:.2f}x, --bf16 {k / b:.2f}x")
f32, f16 = mean(fp32 + bf16, "matmul_gflops_fp32"), mean(fp32 + bf16, "matmul_gflops_bf16")
print(f"  matmul peak (2048^2, best of 5): fp32 {f32:.0f} GFLOP/s, bf16 {f16:.0f} GFLOP/s")
print(f"  fp32: {1000 * 8 * 256 / o:.0f} tokens/s, {mean(fp32, 'achieved_gflops'):.0f} GFLOP/s, MFU {mean(fp32, 'mfu'):.1%} of the fp32 peak")
print(f"  bf16: {1000 * 8 * 256 / b:.0f} tokens/s, {mean(bf16, 'achieved_gflops'):.0f} GFLOP/s, MFU {mean(bf16, 'mfu'):.1%} of the bf16 peak")
PY
}

# The Brown corpus in GPT-2's own vocabulary: the training benchmarks' small English run.
brown_gpt2_shards() {
  local dir="$WORK/brown-gpt2"
  [ -f "$dir/meta.json" ] || "$ROOT/scripts/gpt2-train" prepare --input "$ROOT/.deps/data/brown" --format brown \
    --tokenizer "$ROOT/models/gpt2-tokenizer" --out "$dir" >&2
  printf '%s' "$dir"
}

# Whether bf16 mixed precision learns as well as fp32: the step above, trained for 300 steps on the Brown corpus
# from the same seed in each precision, and the validation loss each reaches (the same 20 batches of val.bin).
bench_bf16() {
  local data; data=$(brown_gpt2_shards)
  local threads; threads=$(nproc)
  local steps=${BENCH_BF16_STEPS:-300}
  echo "== bf16 against fp32: validation loss after $steps steps of the 6x384 GPT-2 on the Brown corpus (batch 8, context 256), $threads threads"
  local losses=()
  for precision in fp32 bf16; do
    local out="$WORK/bf16-check-$precision"
    rm -rf "$out"
    local flags=(); [ $precision = fp32 ] || flags=(--bf16)
    "$ROOT/scripts/gpt2-train" train --data "$data" --config small-6x384 --out "$out" --steps "$steps" --batch-size 8 --context 256 \
      --lr 6e-4 --eval-every "$steps" --eval-batches 20 --save-every 0 --sample-tokens 0 --seed 1 --threads "$threads" "${flags[@]}" >&2
    losses+=("$(python3 -c "import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; e=[r for r in rows if 'val_loss' in r][-1]; print(e['val_loss'], rows[-1]['elapsed'])" "$out/metrics.jsonl")")
  done
  python3 - "${losses[@]}" <<'PY'
import sys
(fp32, t32), (bf16, t16) = (map(float, a.split()) for a in sys.argv[1:])
print(f"  fp32: val loss {fp32:.4f} in {t32:.0f} s; bf16: val loss {bf16:.4f} in {t16:.0f} s")
print(f"  bf16 - fp32: {bf16 - fp32:+.4f} (target: within 0.05); time bf16/fp32 {t16 / t32:.2f}")
PY
}

# A GPT-2 124M checkpoint (trained one step from GPT-2's initialisation: no pretrained weights can be
# downloaded here, and speed does not depend on the values), made once; prints its folder.
gpt2_124m_checkpoint() {
  local dir="$WORK/gpt2-124m"
  if [ ! -f "$dir/checkpoint/model.safetensors" ]; then
    echo "bench: making a GPT-2 124M checkpoint and its exports (once)" >&2
    rm -rf "$dir"; mkdir -p "$dir"
    "$ROOT/scripts/gpt2-train" prepare --input "$ROOT/.deps/data/brown" --format brown --tokenizer "$ROOT/models/gpt2-tokenizer" --out "$dir/data" >&2
    "$ROOT/scripts/gpt2-train" train --data "$dir/data" --config gpt2 --out "$dir/checkpoint" --steps 1 --batch-size 1 --context 64 \
      --eval-every 0 --sample-tokens 0 >&2
  fi
  printf '%s' "$dir"
}

# Exports the checkpoint as each variant named (portable, fused, int4, int8); exports older than the exporter are
# redone: a changed graph must be measured, not a stale one.
gpt2_124m_exports() {
  local dir="$1"; shift
  local exporter="$ROOT/exporter/Gpt2Onnx.Exporter.Cli/bin/Release/net10.0/Gpt2Onnx.Exporter.dll"
  for variant in "$@"; do
    [ "$dir/onnx-$variant/model.onnx" -nt "$exporter" ] && continue
    case $variant in
      portable) flags=() ;; fused) flags=(--variant fused) ;; int4) flags=(--variant fused --precision int4) ;;
      int8) flags=(--variant fused --precision int8) ;;
    esac
    "$ROOT/scripts/gpt2-export" --checkpoint "$dir/checkpoint" --out "$dir/onnx-$variant" "${flags[@]}" --force >&2
  done
}

# The checkpoint, its exports and the peers' exports, made once.
gpt2_124m() {
  local dir; dir=$(gpt2_124m_checkpoint)
  gpt2_124m_exports "$dir" portable fused int4 int8
  # The peers: the same weights as transformers' GPT-2 (what Optimum exports) and written lean, by torch.onnx.export.
  for structure in transformers lean; do
    [ -f "$dir/onnx-peer-$structure/model.onnx" ] && continue
    require_python_torch
    mkdir -p "$dir/onnx-peer-$structure"
    cp "$dir/onnx-portable"/{genai_config.json,config.json,vocab.json,merges.txt} "$dir/onnx-peer-$structure/"
    /usr/bin/python3 "$ROOT/scripts/bench/torch_export_gpt2.py" "$dir/checkpoint" "$dir/onnx-peer-$structure/model.onnx" "$structure" >&2
  done
  printf '%s' "$dir"
}

bench_runtime() {
  local dir; dir=$(gpt2_124m)
  local threads; threads=$(nproc)
  local rounds=${BENCH_ROUNDS:-3} processes=${BENCH_PROCESSES:-3}
  echo "== runtime: GPT-2 124M, $threads threads, prompt 32, 128 new tokens (greedy); $processes processes per batch size, each timing every row $rounds times"
  # One process holds every graph and alternates them round by round (forwards, then backwards), so a slow
  # moment of the machine falls on all of them. Processes differ too: each loads its own copy of the weights,
  # and where those land in memory moves a step's time, so each batch size runs in several processes and a
  # ratio is the median of the processes' ratios (the figures that showed both: README, "Benchmarks").
  local runs=()
  for batch in 1 16; do
    for _ in $(seq "$processes"); do
      runs+=("$("$RUN" bench --model "$dir/onnx-portable" --model "$dir/onnx-fused" --model "$dir/onnx-int4" --model "$dir/onnx-int8" \
        --peer "$dir/onnx-peer-transformers" --peer "$dir/onnx-peer-lean" --batch $batch --rounds "$rounds" --threads "$threads" --products --json)")
    done
  done
  # Memory over a long run: 16 sequences × 640 tokens = 10,240 generated tokens after warm-up.
  runs+=("$("$RUN" bench --model "$dir/onnx-fused" --batch 16 --new-tokens 640 --threads "$threads" --json)")
  python3 - "$processes" "${runs[@]}" <<'PY'
import json, statistics, sys
processes = int(sys.argv[1])
runs = [json.loads(a) for a in sys.argv[2:]]
batches = [runs[:processes], runs[processes:2 * processes]]
long_run = runs[-1]
names = ["ours: portable fp32 + IO binding", "ours: fused fp32 (GQA, shared cache)", "ours: fused int4 (MatMulNBits, int4 head)",
         "ours: fused int8 (MatMulNBits, int8 head)",
         "peer: transformers GPT-2, torch.onnx.export, ORT", "  the same written lean, torch.onnx.export, ORT"]
PORTABLE, FUSED, INT4, INT8, PEER, LEAN = range(6)
median = statistics.median
def each(values, digits=1): return ", ".join(f"{v:.{digits}f}" for v in values)
print("  each figure the median of the processes' median rounds")
print(f"  {'':48} {'batch':>5} {'prefill ms':>10} {'p50 ms':>8} {'p90 ms':>8} {'tokens/s':>9} {'host':>6} {'B/step':>7}")
for group in batches:
    for i, name in enumerate(names):
        rows = [run["rows"][i] for run in group]
        m = lambda key: median(r[key] for r in rows)
        print(f"  {name:48} {group[0]['batch']:5d} {m('prefill_ms'):10.1f} {m('token_ms_p50'):8.2f} {m('token_ms_p90'):8.2f} {m('tokens_per_s'):9.1f} "
              f"{m('host_share'):6.1%} {m('allocated_bytes_per_step'):7.0f}")
print("  (the peers run as plain ONNX Runtime: a new input tensor per Run, ONNX Runtime allocating every output)")
weights = batches[0][0]["rows"][PORTABLE]["weight_bytes"]
bandwidth = [b for run in batches[0] for b in run["memory_bytes_per_s"]]
print(f"  memory floor at batch 1: {weights / 1e6:.0f} MB of fp32 weights read once per step at {min(bandwidth) / 1e9:.1f}-{max(bandwidth) / 1e9:.1f} GB/s "
      f"= {weights / max(bandwidth) * 1000:.1f}-{weights / min(bandwidth) * 1000:.1f} ms; step p50 by process: portable "
      f"{each(run['rows'][PORTABLE]['token_ms_p50'] for run in batches[0])} ms, peer {each(run['rows'][PEER]['token_ms_p50'] for run in batches[0])} ms")
def ratio(group, i, j):
    """Each process's ratio is the median of its rounds' ratios; the figure is the median of the processes'."""
    by_process = [[a / b for a, b in zip(run["rows"][i]["rounds_tokens_per_s"], run["rows"][j]["rounds_tokens_per_s"])] for run in group]
    per_process = [median(values) for values in by_process]
    rounds = [v for values in by_process for v in values]
    return f"{median(per_process):.2f}x (processes: {each(per_process, 2)}; rounds {min(rounds):.2f}-{max(rounds):.2f})"
print("  ratios: the median of the processes' ratios, each process's the median of its rounds'")
for group in batches:
    batch = group[0]["batch"]
    print(f"  batch {batch}: portable/peer {ratio(group, PORTABLE, PEER)} (target 1.3x); portable/lean export {ratio(group, PORTABLE, LEAN)}")
    print(f"  {'':9}fused/peer {ratio(group, FUSED, PEER)}" + ("" if batch == 1 else " (target 1.3x)"))
    print(f"  {'':9}int4/fused fp32 {ratio(group, INT4, FUSED)}" + (" (target 6x)" if batch == 1 else ""))
    print(f"  {'':9}int8/fused fp32 {ratio(group, INT8, FUSED)}" + (" (target 3x)" if batch == 1 else ""))
# The roofline: the weights a step reads (from each graph) against the bandwidth measured in the same process.
print("  roofline: MB of weights a decode step reads; roofline tokens/s = batch x bandwidth / MB read; reached = tokens/s against it;")
print("  each figure the median of the processes' median rounds")
print(f"  {'':48} {'batch':>5} {'MB read':>8} {'roofline':>9} {'tokens/s':>9} {'reached':>8}")
for group in batches:
    for i, name in enumerate(names):
        rows = [run["rows"][i] for run in group]
        m = lambda key: median(r[key] for r in rows)
        target = " (target 50%)" if i == INT4 and group[0]["batch"] == 1 else ""
        print(f"  {name:48} {group[0]['batch']:5d} {m('weights_read_per_step_bytes') / 1e6:8.1f} {m('roofline_tokens_per_s'):9.1f} "
              f"{m('tokens_per_s'):9.1f} {m('roofline_fraction'):8.1%}{target}")
# The floor ONNX Runtime's kernels put under each step: the graph's weight products alone, timed as each round starts.
print("  weight products alone: each graph's MatMul, Gemm, FusedMatMul and MatMulNBits nodes fed from inputs, nothing else")
print(f"  {'':48} {'batch':>5} {'products ms':>11} {'step p50 ms':>11} {'share':>6}")
for group in batches:
    for i in (PORTABLE, FUSED, INT4, INT8):
        rows = [run["rows"][i] for run in group]
        m = lambda key: median(r[key] for r in rows)
        print(f"  {names[i]:48} {group[0]['batch']:5d} {m('products_ms'):11.2f} {m('token_ms_p50'):11.2f} "
              f"{median(r['products_ms'] / r['token_ms_p50'] for r in rows):6.0%}")
def ceiling(group, over, under, key="rounds_token_ms_p50"):
    """over's step (or products) against under's products alone, per round: the most under/over can reach."""
    per_process = [median(a / b for a, b in zip(run["rows"][over][key], run["rows"][under]["rounds_products_ms"]))
                   for run in group]
    return f"{median(per_process):.2f}x (processes: {each(per_process, 2)})"
print("  ceilings: a step cannot be faster than its own products, so a ratio to another graph's step cannot pass that step over them")
for group in batches:
    batch = group[0]["batch"]
    print(f"  batch {batch}: peer step / portable products {ceiling(group, PEER, PORTABLE)}" + (" (floor 1.1x)" if batch == 1 else ""))
    print(f"  {'':9}peer step / fused fp32 products {ceiling(group, PEER, FUSED)}" + (" (floor 1.2x)" if batch == 1 else " (floor 1.4x)"))
    if batch == 1:
        print(f"  {'':9}fused fp32 products / int4 products {ceiling(group, FUSED, INT4, 'rounds_products_ms')} (target 6x; "
              "int4's other nodes are fp32's and its head's split lookup, so int4/fused fp32 stays below it)")
        print(f"  {'':9}fused fp32 products / int8 products {ceiling(group, FUSED, INT8, 'rounds_products_ms')} (target 3x)")
print(f"  {long_run['batch'] * long_run['new_tokens']:,} tokens (fused fp32, batch {long_run['batch']} x {long_run['new_tokens']}): RSS grew {long_run['rss_growth_bytes'] / 1e6:.1f} MB "
      f"over the timed steps; {long_run['allocated_bytes_per_step']:.0f} managed bytes allocated per step; peak RSS {long_run['peak_rss_bytes'] / 1e6:.0f} MB")
PY
  bench_genai "$dir" "$threads" "$rounds" "$processes"
}

# onnxruntime-genai's Generator on the same fused exports as bench_runtime, alternated with our decoder in each
# process (its own tool: GenAI brings its own copy of ONNX Runtime's package, which nothing else here may
# reference). Part of "runtime"; "genai" runs it alone.
bench_genai() {
  local dir="${1:-}" threads="${2:-$(nproc)}" rounds="${3:-${BENCH_ROUNDS:-3}}" processes="${4:-${BENCH_PROCESSES:-3}}"
  if [ -z "$dir" ]; then
    dir=$(gpt2_124m)
    echo "== genai: GPT-2 124M, $threads threads, prompt 32, 128 new tokens (greedy); $processes processes per batch size, each timing every row $rounds times"
  fi
  dotnet build "$ROOT/scripts/bench/genai-bench" -c Release --nologo -v q >&2 || { echo "bench: genai-bench did not build" >&2; exit 1; }
  local genai=()
  for batch in 1 16; do
    for _ in $(seq "$processes"); do
      genai+=("$(dotnet "$ROOT/scripts/bench/genai-bench/bin/Release/net10.0/genai-bench.dll" --model "$dir/onnx-fused" --model "$dir/onnx-int4" --model "$dir/onnx-int8" \
        --batch $batch --rounds "$rounds" --threads "$threads")")
    done
  done
  python3 - "$processes" "${genai[@]}" <<'PY'
import json, statistics, sys
processes = int(sys.argv[1])
runs = [json.loads(a) for a in sys.argv[2:]]
median = statistics.median
print(f"  onnxruntime-genai 0.20 (its Model and Generator, greedy, batch_size rows) on the same exports, alternated with our decoder "
      f"in {processes} processes per batch size; each figure the median of the processes' median rounds")
print(f"  {'':48} {'batch':>5} {'prefill ms':>10} {'p50 ms':>8} {'p90 ms':>8} {'tokens/s':>9}")
names = {("ours", "fp32"): "ours: fused fp32 (beside GenAI)", ("genai", "fp32"): "GenAI: fused fp32",
         ("ours", "int4"): "ours: fused int4 (beside GenAI)", ("genai", "int4"): "GenAI: fused int4",
         ("ours", "int8"): "ours: fused int8 (beside GenAI)", ("genai", "int8"): "GenAI: fused int8"}
lines = []
for group in (runs[:processes], runs[processes:]):
    batch = group[0]["batch"]
    for i, row in enumerate(group[0]["rows"]):
        rows = [run["rows"][i] for run in group]
        m = lambda key: median(r[key] for r in rows)
        print(f"  {names[(row['engine'], row['precision'])]:48} {batch:5d} {m('prefill_ms'):10.1f} {m('token_ms_p50'):8.2f} {m('token_ms_p90'):8.2f} {m('tokens_per_s'):9.1f}")
    for ours in range(0, len(group[0]["rows"]), 2):
        def ratio(key):
            """Each process's ratio is the median of its rounds' ratios; the figure is the median of the processes'."""
            by_process = [[a / b for a, b in zip(run["rows"][ours][key], run["rows"][ours + 1][key])] for run in group]
            per_process = [median(values) for values in by_process]
            rounds = [v for values in by_process for v in values]
            return (f"{median(per_process):.2f}x (processes: " + ", ".join(f"{v:.2f}" for v in per_process)
                    + f"; rounds {min(rounds):.2f}-{max(rounds):.2f})")
        lines.append(f"  batch {batch}: ours/GenAI, fused {group[0]['rows'][ours]['precision']}: decode steps {ratio('rounds_tokens_per_s')}; "
                     f"prompt to last token {ratio('rounds_prompt_to_last_token_per_s')} (target 1.0x)")
print("  ratios: decode steps = tokens/s of the timed steps; prompt to last token = the prefill and those steps together")
print("\n".join(lines))
PY
}

bench_batch() {
  local dir; dir=$(gpt2_124m)
  local threads; threads=$(nproc)
  local input="$WORK/batch-256.jsonl" small="$WORK/batch-32.jsonl"
  python3 - "$input" "$small" <<'PY'
import json, random, sys
random.seed(5)
words = "the of and to a in that is was he for it with as his on be at by i this had not are but from or have an they which".split()
rows = [{"id": i, "prompt": " ".join(random.choice(words) for _ in range(random.randint(4, 48))),
         "max_new_tokens": random.randint(8, 64), "temperature": 0} for i in range(256)]
with open(sys.argv[1], "w") as f: f.writelines(json.dumps(r) + "\n" for r in rows)
with open(sys.argv[2], "w") as f: f.writelines(json.dumps(r) + "\n" for r in rows[:32])
PY
  local batch=${BENCH_BATCH:-128} rounds=${BENCH_ROUNDS:-3}
  echo "== batch: GPT-2 124M fused fp32, 256 prompts of 4-48 words, 8-64 new tokens each, batch $batch, $threads threads; each row the median of $rounds interleaved rounds"
  local runs=()
  for round in $(seq "$rounds"); do
    rm -f "$WORK"/batch-out-*.jsonl
    runs+=("$("$RUN" batch --model "$dir/onnx-fused" --input "$input" --output "$WORK/batch-out-continuous.jsonl" --max-batch "$batch" --threads "$threads" --json 2>/dev/null)")
    runs+=("$("$RUN" batch --model "$dir/onnx-fused" --input "$input" --output "$WORK/batch-out-static.jsonl" --max-batch "$batch" --static --threads "$threads" --json 2>/dev/null)")
    runs+=("$("$RUN" batch --model "$dir/onnx-fused" --input "$small" --output "$WORK/batch-out-single.jsonl" --max-batch 1 --threads "$threads" --json 2>/dev/null)")
  done
  # This CPU's fp32 matrix-product peak (PyTorch's sgemm, large square matrices), to bound what any schedule can reach.
  require_python_torch
  local peak; peak=$(/usr/bin/python3 - "$threads" <<'PY'
import sys, time, torch
torch.set_num_threads(int(sys.argv[1])); a = torch.randn(2048, 2048); b = torch.randn(2048, 2048); a @ b
best = 0
for _ in range(5):
    t = time.perf_counter(); a @ b; a @ b; best = max(best, 4 * 2048 ** 3 / (time.perf_counter() - t))
print(best)
PY
)
  python3 - "$batch" "$peak" "$dir/onnx-fused/config.json" "$WORK/batch-out-continuous.jsonl" "${runs[@]}" <<'PY'
import json, statistics, sys
batch, peak, config, rows = sys.argv[1], float(sys.argv[2]), json.load(open(sys.argv[3])), [json.loads(l) for l in open(sys.argv[4])]
runs = [json.loads(a) for a in sys.argv[5:]]
rounds = [runs[k:k + 3] for k in range(0, len(runs), 3)]
def median_run(i): return sorted((rnd[i] for rnd in rounds), key=lambda r: r["tokens_per_s"])[len(rounds) // 2]
c, s, one = median_run(0), median_run(1), median_run(2)
for name, r in ((f"continuous batching, batch {batch}", c), (f"static batching, batch {batch}", s), ("one prompt at a time (first 32 rows)", one)):
    print(f"  {name:38} {r['written']:4d} rows {r['tokens']:6d} tokens {r['seconds']:7.1f} s {r['tokens_per_s']:7.1f} tokens/s  peak RSS {r['peak_rss_bytes'] / 1e6:.0f} MB")
def ratio(i, j):
    values = [rnd[i]["tokens_per_s"] / rnd[j]["tokens_per_s"] for rnd in rounds]
    return f"{statistics.median(values):.2f}x (" + ", ".join(f"{v:.2f}" for v in values) + ")"
print(f"  the median of the rounds' ratios (each round's in brackets): continuous/static {ratio(0, 1)} (target 1.5x); continuous/one-at-a-time {ratio(0, 2)} (target 8x)")
# The job's arithmetic: each prompt token and each generated token but the last goes through the blocks once
# (12 d^2 multiply-adds per layer, plus attention over the positions before it); each generated token needs the LM head.
d, layers, vocab = config["n_embd"], config["n_layer"], config["vocab_size"]
flops = 0.0
for r in rows:
    n = r["prompt_tokens"] + r["tokens"] - 1
    flops += 2 * n * layers * 12 * d * d + 2 * 2 * d * layers * n * (n + 1) / 2 + 2 * d * vocab * r["tokens"]
fastest = flops / peak
ceiling = c["tokens"] / fastest
print(f"  the job is {flops / 1e12:.2f} TFLOP: {fastest:.1f} s at this CPU's fp32 matrix-product peak ({peak / 1e9:.0f} GFLOP/s, PyTorch sgemm 2048^2), "
      f"so at most {ceiling:.0f} tokens/s = {ceiling / one['tokens_per_s']:.2f}x one-at-a-time; continuous ran at {flops / c['seconds'] / 1e9:.0f} GFLOP/s")
PY
}

# gpt2-run serve under load, on loopback only and bounded (a fixed number of requests; it ends by itself): 1, 8,
# 32 and 64 concurrent streaming clients, each level against a fresh server with --max-batch at the clients,
# and side by side the batch job on the same rows at the same batch size. The load generator (one Python thread)
# is pinned to the first core, the server and the batch job to the others.
bench_serve() {
  local dir; dir=$(gpt2_124m_checkpoint)
  gpt2_124m_exports "$dir" fused
  local cores; cores=$(nproc)
  local client_cores=0 server_cores="1-$((cores - 1))" threads=$((cores - 1))
  if [ "$cores" -lt 2 ]; then server_cores=0; threads=1; fi
  local requests=${BENCH_SERVE_REQUESTS:-4} length=128
  local rows="$WORK/serve-prompts.jsonl"
  # Lengths vary, as a service's do (and the batch benchmark's): requests of one length would all end at the same
  # step and leave the batch empty while their clients send the next ones. min_tokens fixes each one's count.
  python3 - "$rows" <<'PY'
import json, random, sys
random.seed(7)
words = "the of and to a in that is was he for it with as his on be at by i this had not are but from or have".split()
with open(sys.argv[1], "w") as f:
    for i in range(256):
        tokens = random.randint(16, 48)
        f.write(json.dumps({"id": i, "prompt": " ".join(random.choice(words) for _ in range(random.randint(4, 24))),
                            "max_new_tokens": tokens, "min_new_tokens": tokens, "temperature": 0}) + "\n")
PY
  echo "== serve: GPT-2 124M fused fp32 on loopback; server and batch job: taskset -c $server_cores," \
       "$threads ONNX Runtime thread(s), --max-batch = the clients, --max-length $length; load generator:" \
       "taskset -c $client_cores, one Python thread; $requests streaming requests per client, prompts of 4-24 words," \
       "16-48 new tokens each (greedy, min_tokens = max_tokens); the batch job on the same rows"
  local results=()
  for clients in 1 8 32 64; do
    local log="$WORK/serve-$clients.log"
    taskset -c "$server_cores" "$RUN" serve --model "$dir/onnx-fused" --port 0 --max-batch "$clients" \
      --max-length "$length" --threads "$threads" --max-queue 4096 2>"$log" &
    local server=$! port=""
    for _ in $(seq 600); do
      port=$(sed -nE 's#.* on http://127\.0\.0\.1:([0-9]+).*#\1#p' "$log")
      [ -n "$port" ] && break
      kill -0 "$server" 2>/dev/null || { cat "$log" >&2; echo "bench: the server did not start" >&2; exit 1; }
      sleep 0.1
    done
    [ -n "$port" ] || { kill -TERM "$server"; echo "bench: the server did not listen within 60 s" >&2; exit 1; }
    # One request first, untimed: the first prefill and step of a process are slower than the rest.
    taskset -c "$client_cores" python3 "$ROOT/scripts/bench/serve_load.py" "$port" 1 1 "$rows" >/dev/null
    local load
    load=$(taskset -c "$client_cores" python3 "$ROOT/scripts/bench/serve_load.py" "$port" "$clients" "$requests" \
      "$rows")
    kill -TERM "$server"
    wait "$server" || { cat "$log" >&2; echo "bench: the server did not exit 0 on SIGTERM" >&2; exit 1; }
    head -n $((clients * requests)) "$rows" >"$WORK/serve-batch-in.jsonl"
    rm -f "$WORK/serve-batch-out.jsonl"
    local batch
    batch=$(taskset -c "$server_cores" "$RUN" batch --model "$dir/onnx-fused" --input "$WORK/serve-batch-in.jsonl" \
      --output "$WORK/serve-batch-out.jsonl" --max-batch "$clients" --max-length "$length" --threads "$threads" \
      --json 2>/dev/null)
    results+=("$load" "$batch")
  done
  python3 - "${results[@]}" <<'PY'
import json, sys
runs = [json.loads(a) for a in sys.argv[1:]]
levels = [(runs[k], runs[k + 1]) for k in range(0, len(runs), 2)]
print(f"  {'clients':>7} {'requests':>8} {'errors':>6} {'lost':>4} {'req/s':>6} {'tokens/s':>8} {'TTFT p50':>9} "
      f"{'TTFT p99':>9} {'ITL p50':>8} {'ITL p99':>8} {'batch job tokens/s':>18} {'server/batch':>12}")
for load, batch in levels:
    print(f"  {load['clients']:7d} {load['requests']:8d} {load['errors']:6d} {load['lost']:4d} "
          f"{load['requests_per_s']:6.2f} {load['tokens_per_s']:8.1f} {load['ttft_p50_ms']:7.0f}ms "
          f"{load['ttft_p99_ms']:7.0f}ms {load['itl_p50_ms']:6.0f}ms {load['itl_p99_ms']:6.0f}ms "
          f"{batch['tokens_per_s']:18.1f} {load['tokens_per_s'] / batch['tokens_per_s']:11.2f}x")
one, (served, job) = levels[0][0], levels[2]
errors, lost = sum(l["errors"] for l, _ in levels), sum(l["lost"] for l, _ in levels)
print(f"  at 32 clients: {served['tokens_per_s'] / job['tokens_per_s']:.2f}x the batch job at --max-batch 32 "
      f"(target 0.8x), {served['tokens_per_s'] / one['tokens_per_s']:.1f}x one client's tokens/s (target 5x); "
      f"errors {errors}, lost {lost} (target 0 and 0)")
PY
}

# Beam search: 4 beams against one greedy run, each of BENCH_BEAM_TOKENS (128) new tokens after a 32-token prompt,
# on GPT-2 124M's fused and portable graphs. Stop tokens are held off (--min-new-tokens) so both runs take every
# step; each time is generate's own generation_s (prefill and decoding, the model's loading left out), the runs
# alternating round by round in fresh processes.
bench_beam() {
  local dir; dir=$(gpt2_124m_checkpoint)
  gpt2_124m_exports "$dir" fused portable
  local tokens=${BENCH_BEAM_TOKENS:-128} rounds=${BENCH_ROUNDS:-3} threads; threads=$(nproc)
  local prompt; prompt=$(python3 -c "print(','.join(str(464 + 7 * i) for i in range(32)))")
  echo "== beam: GPT-2 124M, $threads threads, prompt 32, $tokens new tokens: 4 beams vs one greedy run, $rounds rounds"
  local times=()
  for variant in fused portable; do
    for _ in $(seq "$rounds"); do
      for search in greedy beams; do
        local flags=(--greedy); [ "$search" = beams ] && flags=(--num-beams 4)
        local out; out=$("$RUN" generate --model "$dir/onnx-$variant" --prompt-ids "$prompt" --max-new-tokens "$tokens" \
          --min-new-tokens "$tokens" --threads "$threads" "${flags[@]}" --json)
        times+=("$variant $search $(json_field "$out" generation_s) $(python3 -c "import json,sys; print(len(json.loads(sys.argv[1])['ids']))" "$out")")
      done
    done
  done
  python3 - "${times[@]}" <<'PY'
import statistics, sys
rows = [a.split() for a in sys.argv[1:]]
for variant in ("fused", "portable"):
    greedy = [float(r[2]) for r in rows if r[0] == variant and r[1] == "greedy"]
    beams = [float(r[2]) for r in rows if r[0] == variant and r[1] == "beams"]
    lengths = {int(r[3]) for r in rows if r[0] == variant}
    ratios = [b / g for g, b in zip(greedy, beams)]
    print(f"  {variant:8}: greedy {statistics.median(greedy):.2f} s, 4 beams {statistics.median(beams):.2f} s; "
          f"4 beams / greedy {statistics.median(ratios):.2f}x (rounds {min(ratios):.2f}-{max(ratios):.2f}; target <= 1.6x); "
          f"new tokens {sorted(lengths)}")
PY
}

# The folder of the memory and adafactor benchmarks (BENCH_TRAIN_WORK), and the Brown corpus in GPT-2's
# vocabulary there.
train_work() {
  local work="${BENCH_TRAIN_WORK:-$ROOT/.deps/train-bench}"
  mkdir -p "$work"
  printf '%s' "$work"
}
train_work_shards() {
  local dir; dir="$(train_work)/brown-gpt2"
  [ -f "$dir/meta.json" ] || "$ROOT/scripts/gpt2-train" prepare --input "$ROOT/.deps/data/brown" --format brown \
    --tokenizer "$ROOT/models/gpt2-tokenizer" --out "$dir" >&2
  printf '%s' "$dir"
}

# Adafactor with activation checkpointing against AdamW: the validation loss each reaches after the same steps on
# the Brown corpus from one seed, at the same learning rate and schedule, and Adafactor's relative step size (no
# --lr) beside them. BENCH_ADAFACTOR_CONFIG (small-6x384), BENCH_ADAFACTOR_STEPS (300) and BENCH_ADAFACTOR_CONTEXT
# (256) set the size.
bench_adafactor() {
  local data; data=$(train_work_shards)
  local work; work=$(train_work)
  local threads; threads=$(nproc)
  local config=${BENCH_ADAFACTOR_CONFIG:-small-6x384} steps=${BENCH_ADAFACTOR_STEPS:-300}
  local context=${BENCH_ADAFACTOR_CONTEXT:-256}
  echo "== Adafactor + activation checkpointing against AdamW: validation loss after $steps steps of $config on the" \
       "Brown corpus (batch 8, context $context), $threads threads"
  local rows=()
  for run in adamw adafactor adafactor-relative; do
    local out="$work/adafactor-check-$run" flags=(--lr 6e-4)
    rm -rf "$out"
    [ $run = adamw ] || flags+=(--optimizer adafactor --activation-checkpointing)
    [ $run != adafactor-relative ] || flags=(--optimizer adafactor --activation-checkpointing)
    "$ROOT/scripts/gpt2-train" train --data "$data" --config "$config" --out "$out" --steps "$steps" --batch-size 8 \
      --context "$context" --eval-every "$steps" --eval-batches 20 --save-every 0 --sample-tokens 0 --seed 1 \
      --threads "$threads" "${flags[@]}" 2>"$out.log" || { tail -5 "$out.log" >&2; return 1; }
    rows+=("$(python3 -c "import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; e=[r for r in rows if 'val_loss' in r][-1]; print(e['val_loss'], rows[-1]['elapsed'])" "$out/metrics.jsonl")")
    rm -rf "$out"
  done
  python3 - "${rows[@]}" <<'PY'
import sys
(adamw, ta), (ada, tf), (rel, tr) = (map(float, a.split()) for a in sys.argv[1:])
for label, loss, seconds in [("AdamW, lr 6e-4", adamw, ta), ("Adafactor + checkpointing, lr 6e-4", ada, tf),
                             ("Adafactor + checkpointing, relative step size", rel, tr)]:
    print(f"  {label + ':':47} val loss {loss:.4f} in {seconds:.0f} s")
print(f"  Adafactor - AdamW at the same lr: {ada - adamw:+.4f} (target: at most +0.1)")
PY
}

# Fine-tuning memory: three steps of a large preset (gpt2-xl, 1.5B) with Adafactor and activation checkpointing at
# batch 1 × 1024 from a random initialisation, its checkpoint saved and resumed for one more step, beside 124M
# (gpt2) with AdamW and every activation kept. Each row is one process: its peak RSS (VmHWM) and the breakdown the
# trainer prints after its last save. BENCH_MEMORY_PRESET picks the large preset (gpt2-medium to try it on a busy
# machine); BENCH_TRAIN_WORK the folder for the data and the checkpoints (about 4 bytes per parameter, twice).
bench_memory() {
  local preset="${BENCH_MEMORY_PRESET:-gpt2-xl}" work; work=$(train_work)
  local threads; threads=$(nproc)
  local data; data=$(train_work_shards)
  echo "== memory: 3 training steps at batch 1 × 1024 tokens, fp32, $threads threads; then save and resume"
  train_rows() {   # label out steps-it-runs [train options...]: one process's memory line and step times, as JSON
    local label="$1" out="$2" ran="$3"; shift 3
    "$ROOT/scripts/gpt2-train" train --data "$data" --out "$out" --batch-size 1 --context 1024 --eval-every 0 \
      --save-every 0 --sample-tokens 0 --threads "$threads" "$@" 2>"$out.log" >/dev/null \
      || { tail -5 "$out.log" >&2; return 1; }
    python3 - "$label" "$out" "$ran" <<'PY'
import json, re, sys
label, out, ran = sys.argv[1], sys.argv[2], int(sys.argv[3])
line = next(l for l in open(out + ".log") if l.startswith("memory: "))
names = ["peak", "weights", "gradients", "optimizer", "activations", "runtime"]
values = [float(v) for v in re.findall(r"(?:RSS|weights|gradients|optimizer|temporaries|runtime) ([0-9.]+)", line)]
rows = [json.loads(l) for l in open(out + "/metrics.jsonl")]
print(json.dumps({"label": label, **dict(zip(names, values)), "steps": [r["step"] for r in rows],
                  "elapsed": [r["elapsed"] for r in rows][-ran - 1:], "loss": rows[-1]["loss"]}))
PY
  }
  local big="$work/$preset-adafactor" small="$work/gpt2-adamw" rows=()
  rm -rf "$big" "$small"
  rows+=("$(train_rows "$preset, Adafactor, checkpointing" "$big" 3 --config "$preset" --steps 3 \
    --optimizer adafactor --activation-checkpointing)")
  local saved; saved=$(du -sh "$big" | cut -f1)
  rows+=("$(train_rows "$preset, resumed for step 4" "$big" 1 --resume --steps 4)")
  rows+=("$(train_rows "gpt2 (124M), AdamW" "$small" 3 --config gpt2 --steps 3)")
  python3 - "$saved" "${rows[@]}" <<'PY'
import json, sys
saved, rows = sys.argv[1], [json.loads(a) for a in sys.argv[2:]]
print(f"  {'':34} {'peak RSS':>9} {'weights':>8} {'grads':>7} {'optim':>7} {'activ.':>7} {'runtime':>8} {'s/step':>7}")
for r in rows:
    # The process's own steps after its first (which includes libtorch's warm-up); a one-step resume has only that.
    e = r["elapsed"]
    mine = [b - a for a, b in zip(e, e[1:])][-2:]
    print(f"  {r['label']:34} {r['peak']:7.2f}GB {r['weights']:6.2f}GB {r['gradients']:5.2f}GB "
          f"{r['optimizer']:5.2f}GB {r['activations']:5.2f}GB {r['runtime']:6.2f}GB {sum(mine) / len(mine):7.1f}")
print(f"  checkpoint after 3 steps: {saved}; the resumed run reached step {rows[1]['steps'][-1]} "
      f"(loss {rows[1]['loss']:.3f}); activations = peak − the rest (a step's activations and temporaries)")
PY
  rm -rf "$big" "$small"
}

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(tokenizer torch runtime batch serve)   # bf16 (30 minutes on 2 cores), memory (gpt2-xl) and adafactor only when asked
for section in "${sections[@]}"; do
  case "$section" in
    tokenizer) bench_tokenizer ;;
    torch) bench_torch ;;
    runtime) bench_runtime ;;
    genai) bench_genai ;;
    batch) bench_batch ;;
    serve) bench_serve ;;
    bf16) bench_bf16 ;;
    beam) bench_beam ;;
    memory) bench_memory ;;
    adafactor) bench_adafactor ;;
    *) echo "bench: unknown benchmark '$section' (known: tokenizer torch runtime genai batch serve bf16 beam memory adafactor)" >&2; exit 2 ;;
  esac
done
