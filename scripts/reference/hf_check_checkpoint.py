"""Loads a checkpoint this project wrote (gpt2-train's output folder) with Hugging Face transformers and its
tokenizer with AutoTokenizer, and prints as JSON what they compute: the text's ids, its sliding-window loss
for each WINDOW:STRIDE, and greedy continuations of the prompts. Compare with
`gpt2-run tokenize`, `gpt2-run perplexity --window W --stride S --json` and `gpt2-run generate --greedy --json`
on the export of the same checkpoint. Needs torch and transformers.

Run: python3 scripts/reference/hf_check_checkpoint.py CHECKPOINT_DIR TEXT_FILE NEW_TOKENS WINDOW:STRIDE... -- PROMPT...
"""
import json
import sys

import torch
from transformers import AutoTokenizer, GPT2LMHeadModel

from hf_reference import sliding_nll


def main():
    folder, text_file, new_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
    split = sys.argv.index("--")
    windows = [tuple(int(n) for n in w.split(":")) for w in sys.argv[4:split]]
    prompts = sys.argv[split + 1:]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager").float().eval()
    text = open(text_file, encoding="utf-8").read()
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    eos = model.config.eos_token_id
    continuations = []
    for prompt in prompts:
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        out = model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                             max_new_tokens=new_tokens, do_sample=False, pad_token_id=eos)
        row = out[0, len(prompt_ids):].tolist()
        row = row[:row.index(eos)] if eos in row else row
        continuations.append({"prompt": prompt, "prompt_ids": prompt_ids, "ids": row, "text": tokenizer.decode(row)})
    print(json.dumps({"tokenizer": type(tokenizer).__name__, "ids": ids,
                      "sliding_window": [sliding_nll(model, ids, w, s) for w, s in windows],
                      "greedy": continuations}, ensure_ascii=False))


main()
