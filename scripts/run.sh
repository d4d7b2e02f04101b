#!/usr/bin/env bash
# The main job, end to end: sets up on first use, then on the Tang poems (the data set of the Chinese
# GPT-2 tutorials):
#   1. trains a character-level WordPiece vocabulary   2. prepares token shards
#   3. trains a small GPT-2 for a bounded time          4. exports a portable fp32 and a fused int4 graph
#   5. writes poems through the runtime                 6. checks trainer/runtime parity
#   7. says where everything is and how to do each step on your own data.
# A second run reuses what is already built; --fresh starts over.
#
# Usage: scripts/run.sh [--minutes N] [--english] [--fresh]
#   --minutes N   training time budget (default 6)
#   --english     the Brown corpus with the GPT-2 vocabulary instead of the poems
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
minutes=6
corpus=poetry
fresh=0
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes="${2:?--minutes needs a number}"; shift 2 ;;
    --english) corpus=english; shift ;;
    --fresh) fresh=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

"$ROOT/scripts/setup.sh"
TRAIN="$ROOT/scripts/gpt2-train"
RUN="$ROOT/scripts/gpt2-run"
EXPORT="$ROOT/scripts/gpt2-export"
work="$ROOT/models/trained/$corpus"
onnx="$ROOT/models/onnx"
if [ $fresh -eq 1 ]; then rm -rf "$work" "$onnx/$corpus-portable" "$onnx/$corpus-int4"; fi
mkdir -p "$work" "$onnx"
step() { printf '\n== %s\n' "$*"; }

if [ "$corpus" = poetry ]; then
  input=("$ROOT/.deps/data/tang-poems")
  format=poetry
  tokenizer="$work/tokenizer"
  prompts=("床前明月光，" "春眠不覺曉，" "白日依山盡，" "獨在異鄉為異客，")
  if [ ! -f "$tokenizer/vocab.txt" ]; then
    step "1. a character-level WordPiece vocabulary from 57,607 Tang poems"
    "$TRAIN" tokenizer --input "${input[@]}" --kind wordpiece --vocab-size 8000 --min-frequency 2 --out "$tokenizer"
  else
    step "1. vocabulary: reusing $tokenizer"
  fi
else
  input=("$ROOT/.deps/data/brown")
  format=brown
  tokenizer="$ROOT/models/gpt2-tokenizer"
  prompts=("The jury said that" "In the morning, the city" "She looked at the")
  step "1. vocabulary: GPT-2's own byte-level BPE ($tokenizer)"
fi

if [ ! -f "$work/data/meta.json" ]; then
  step "2. token shards"
  "$TRAIN" prepare --input "${input[@]}" --format "$format" --tokenizer "$tokenizer" --out "$work/data"
else
  step "2. token shards: reusing $work/data"
fi

checkpoint="$work/checkpoint"
if [ ! -f "$checkpoint/model.safetensors" ]; then
  # bf16 matrix products (fp32 weights, optimizer and loss) where the CPU has bf16 instructions (the trainer's own
  # check, as gpt2-train info reports it): about twice the steps in the same minutes, at the same validation loss
  # (README, "The trainer"); elsewhere libtorch would emulate bf16.
  precision=(); label=fp32
  info=$("$TRAIN" info --json)
  if [[ $info == *'"native_bf16":true'* ]]; then precision=(--bf16); label="bf16 mixed precision"; fi
  step "3. training a 4-layer, 256-wide GPT-2 for up to $minutes minutes ($label)"
  "$TRAIN" train --data "$work/data" --config poetry-small --out "$checkpoint" --steps 20000 --batch-size 32 --context 64 \
    --lr 1e-3 --warmup 200 --dropout 0.0 --eval-every 250 --save-every 1000 --sample-prompt "${prompts[0]}" \
    --minutes "$minutes" "${precision[@]}"
else
  step "3. training: reusing $checkpoint (--fresh to train again)"
fi

# An export is redone when it is older than the checkpoint or than the exporter that writes it.
exporter="$ROOT/exporter/Gpt2Onnx.Exporter.Cli/bin/Release/net10.0/Gpt2Onnx.Exporter.dll"
for variant in portable int4; do
  model="$onnx/$corpus-$variant/model.onnx"
  if [ ! "$model" -nt "$checkpoint/model.safetensors" ] || [ ! "$model" -nt "$exporter" ]; then
    if [ $variant = portable ]; then flags=(--variant portable); else flags=(--variant fused --precision int4); fi
    step "4. export: $variant"
    "$EXPORT" --checkpoint "$checkpoint" --out "$onnx/$corpus-$variant" "${flags[@]}" --force
  else
    step "4. export: reusing $onnx/$corpus-$variant"
  fi
done

step "5. generating through the runtime (fused int4 graph, sampled with a fixed seed)"
seed=1
for prompt in "${prompts[@]}"; do
  "$RUN" generate --model "$onnx/$corpus-int4" --prompt "$prompt" --min-new-tokens 18 --max-new-tokens 48 --temperature 0.8 --top-k 40 --seed $seed
  seed=$((seed + 1))
done

step "6. parity: trainer (libtorch) against runtime (ONNX Runtime)"
"$TRAIN" parity --checkpoint "$checkpoint" --onnx "$onnx/$corpus-portable" --report "$work/parity-portable.json"
"$TRAIN" parity --checkpoint "$checkpoint" --onnx "$onnx/$corpus-int4" --report "$work/parity-int4.json"

step "7. where everything is"
cat <<EOT
  vocabulary        $tokenizer
  token shards      $work/data          (train.bin, val.bin, meta.json)
  checkpoint        $checkpoint    (Hugging Face layout; metrics.jsonl, loss.png, loss.svg, samples.jsonl)
  ONNX, portable    $onnx/$corpus-portable
  ONNX, fused int4  $onnx/$corpus-int4
  parity reports    $work/parity-portable.json, $work/parity-int4.json

On your own data:
  scripts/gpt2-train tokenizer --input my-texts/ --kind bpe --vocab-size 8000 --out my/tokenizer
  scripts/gpt2-train prepare   --input my-texts/ --tokenizer my/tokenizer --out my/data
  scripts/gpt2-train train     --data my/data --config poetry-small --out my/checkpoint --minutes 30
  scripts/gpt2-export          --checkpoint my/checkpoint --out my/onnx
  scripts/gpt2-run generate    --model my/onnx --prompt "Once upon a time"
  scripts/gpt2-train parity    --checkpoint my/checkpoint --onnx my/onnx --report my/parity.json
EOT
