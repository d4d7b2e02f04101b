#!/usr/bin/env bash
# Benchmarks, each side by side with the peer it must beat, in the same run (these machines are noisy;
# only ratios hold). Usage: scripts/bench.sh [tokenizer ...]   (no argument: every benchmark)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh" >&2
RUN="$ROOT/scripts/gpt2-run"
WORK="$ROOT/.deps/bench"
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
  python3 - "$cold" "$ours" "$peer" "$one" "$all" <<'PY'
import json, sys
cold, ours, peer, one, all_ = (json.loads(a) for a in sys.argv[1:])
assert ours["tokens"] == peer["tokens"], f"token counts differ: ours {ours['tokens']}, tiktoken {peer['tokens']}"
print(f"  {'':34} {'MB/s':>8} {'tokens':>10}")
print(f"  {'Gpt2Onnx, 1 thread (first run)':34} {cold['mb_per_s']:8.1f} {cold['tokens']:10d}")
print(f"  {'Gpt2Onnx, 1 thread (fresh cache)':34} {ours['mb_per_s']:8.1f} {ours['tokens']:10d}")
print(f"  {'tiktoken (npm, WASM), 1 thread':34} {peer['mb_per_s']:8.1f} {peer['tokens']:10d}")
print(f"  ratio Gpt2Onnx / tiktoken: {ours['mb_per_s'] / peer['mb_per_s']:.1f}x (target: at least 10 MB/s)")
print(f"  500 documents: {one['mb_per_s']:.1f} MB/s on 1 thread, {all_['mb_per_s']:.1f} MB/s on {all_['threads']} threads "
      f"({all_['mb_per_s'] / one['mb_per_s']:.2f}x)")
PY
}

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(tokenizer)
for section in "${sections[@]}"; do
  case "$section" in
    tokenizer) bench_tokenizer ;;
    *) echo "bench: unknown benchmark '$section' (known: tokenizer)" >&2; exit 2 ;;
  esac
done
