"""Makes the fixtures that check this project against Hugging Face's own code: GPT-2 checkpoints written by
transformers' save_pretrained with what transformers computes from them (logits, greedy generation with and
without a repetition penalty, a left-padded batch, sliding-window log-likelihoods), and what the Rust
`tokenizers` library makes of random texts (GPT-2's byte-level BPE, BERT's WordPiece in five settings), and
BERT tokenizer folders as transformers saves them.

It needs torch, transformers and tokenizers, which this project's machines do not have; it was run on a
machine that has them (transformers 5.17, tokenizers 0.23.2, torch 2.11), and its output is committed.

Run: python3 scripts/reference/hf_reference.py REF_DIR OUT_DIR
  REF_DIR holds texts.json (scripts/reference/make_texts.py; the fixtures keep the texts), GPT-2's vocab.json
  and merges.txt (models/gpt2-tokenizer) and wordpiece-vocab.txt (the one in the fixtures' folder). Run again
  with the same inputs, it writes the committed files byte for byte.
"""
import json
import os
import sys
import traceback

import tokenizers
import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel

VERSIONS = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__, "torch": torch.__version__}

BASE = dict(vocab_size=300, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=299, eos_token_id=299,
            initializer_range=0.2)
CASES = {
    "gelu-new": dict(config={}, dtype=torch.float32, shard=None),
    "gelu-erf-inner-eps": dict(config=dict(activation_function="gelu", n_inner=48, layer_norm_epsilon=1e-3, n_head=2),
                               dtype=torch.float32, shard=None),
    "float16-sharded": dict(config={}, dtype=torch.float16, shard="20KB"),
    "bfloat16": dict(config=dict(activation_function="gelu_pytorch_tanh"), dtype=torch.bfloat16, shard=None),
}


def sliding_nll(model, ids, window, stride):
    """Hugging Face's sliding-window perplexity, token-weighted: each window scores the tokens the one before did not."""
    total, scored, previous_end = 0.0, 0, 0
    for begin in range(0, len(ids), stride):
        end = min(begin + window, len(ids))
        with torch.no_grad():
            logits = model(torch.tensor([ids[begin:end]])).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1)
        for target in range(max(previous_end, begin + 1), end):
            total -= logp[target - 1 - begin, ids[target]].item()
            scored += 1
        previous_end = end
        if end == len(ids):
            break
    return {"window": window, "stride": stride, "loss": total / scored, "tokens": scored}


def greedy(model, prompts, new_tokens, **options):
    """Greedy continuations of left-padded prompts, each cut after its end-of-text, and the smallest margin
    between the chosen logit and the next one (a tiny margin would make the comparison depend on rounding)."""
    eos = model.config.eos_token_id
    width = max(len(p) for p in prompts)
    ids = torch.tensor([[eos] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    out = model.generate(ids, attention_mask=mask, max_new_tokens=new_tokens, do_sample=False, pad_token_id=eos,
                         output_scores=True, return_dict_in_generate=True, **options)
    rows = []
    for row in out.sequences[:, width:].tolist():
        rows.append(row[:row.index(eos) + 1] if eos in row else row)
    margin = min((s.topk(2, dim=-1).values[:, 0] - s.topk(2, dim=-1).values[:, 1]).min().item() for s in out.scores)
    return {"prompts": prompts, "new_tokens": new_tokens, "options": options, "continuations": rows, "min_margin": margin}


def make_checkpoint(name, case, out_dir, seed):
    torch.manual_seed(seed)
    config = GPT2Config(**{**BASE, **case["config"]})
    model = GPT2LMHeadModel(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # every parameter away from its initial value: biases, LayerNorm gains and shifts too
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.1)
    folder = os.path.join(out_dir, name)
    model = model.to(case["dtype"])
    model.save_pretrained(folder, **({"max_shard_size": case["shard"]} if case["shard"] else {}))
    # The reference computes in float32 from the weights as stored, the way the export reads them.
    model = GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager").float().eval()
    g = torch.Generator().manual_seed(seed + 1)
    prompt = torch.randint(0, config.vocab_size - 1, (12,), generator=g).tolist()
    short = torch.randint(0, config.vocab_size - 1, (5,), generator=g).tolist()
    text = torch.randint(0, config.vocab_size - 1, (150,), generator=g).tolist()
    with torch.no_grad():
        logits = model(torch.tensor([prompt])).logits[0]
    expected = {
        "made_by": VERSIONS,
        "config": case["config"],
        "dtype": str(case["dtype"]).replace("torch.", ""),
        "prompt": prompt,
        "prompt_logits": [[round(v, 6) for v in row] for row in logits.tolist()],
        "greedy": greedy(model, [prompt], 24),
        "greedy_repetition_penalty": greedy(model, [prompt], 24, repetition_penalty=1.5),
        "greedy_min_new_tokens": greedy(model, [prompt], 24, min_new_tokens=20),
        "greedy_left_padded_batch": greedy(model, [short, prompt], 16),
        "sliding_window": {"ids": text, "results": [sliding_nll(model, text, w, s) for w, s in ((64, 32), (32, 32), (48, 7), (64, 64))]},
    }
    with open(os.path.join(folder, "expected.json"), "w") as f:
        json.dump(expected, f)
    print(name, "files:", sorted(os.listdir(folder)), "margins:",
          [expected[k]["min_margin"] for k in expected if k.startswith("greedy")], flush=True)


def tokenize(ref_dir, out_dir):
    texts = json.load(open(os.path.join(ref_dir, "texts.json"), encoding="utf-8"))
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(os.path.join(ref_dir, "vocab.json"), os.path.join(ref_dir, "merges.txt")))
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    result = {"made_by": VERSIONS, "texts": texts, "ids": [bpe.encode(t).ids for t in texts]}
    with open(os.path.join(out_dir, "bpe-gpt2.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)
    settings = {
        "lowercase": dict(lowercase=True, strip_accents=None, handle_chinese_chars=True),
        "cased": dict(lowercase=False, strip_accents=None, handle_chinese_chars=True),
        "lowercase-keep-accents": dict(lowercase=True, strip_accents=False, handle_chinese_chars=True),
        "cased-strip-accents": dict(lowercase=False, strip_accents=True, handle_chinese_chars=True),
        "lowercase-no-cjk-split": dict(lowercase=True, strip_accents=None, handle_chinese_chars=False),
    }
    vocab = os.path.join(ref_dir, "wordpiece-vocab.txt")
    result = {"made_by": VERSIONS, "texts": texts[:600], "settings": {}}
    for name, options in settings.items():
        wordpiece = tokenizers.BertWordPieceTokenizer(vocab, clean_text=True, **options)
        result["settings"][name] = {"options": options,
                                    "ids": [wordpiece.encode(t, add_special_tokens=False).ids for t in texts[:600]]}
    with open(os.path.join(out_dir, "wordpiece.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False)
    print("tokenized", len(texts), "texts", flush=True)


def saved_tokenizers(ref_dir, out_dir):
    """BERT tokenizer folders as transformers 5 saves them (tokenizer.json and tokenizer_config.json, no vocab.txt),
    loaded by AutoTokenizer from the WordPiece vocabulary, lower-cased and cased."""
    import shutil
    from transformers import AutoTokenizer
    for lower in (True, False):
        name = "transformers5-bert-" + ("lower" if lower else "cased")
        source = os.path.join(out_dir, "hub-" + name)
        os.makedirs(source, exist_ok=True)
        shutil.copy(os.path.join(ref_dir, "wordpiece-vocab.txt"), os.path.join(source, "vocab.txt"))
        with open(os.path.join(source, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": lower}, f)
        AutoTokenizer.from_pretrained(source).save_pretrained(os.path.join(out_dir, name))
        shutil.rmtree(source)
        print("saved", name, sorted(os.listdir(os.path.join(out_dir, name))), flush=True)


def main():
    ref_dir, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    print(VERSIONS, flush=True)
    failed = False
    for step in [lambda: tokenize(ref_dir, out_dir), lambda: saved_tokenizers(ref_dir, out_dir)] + [
            (lambda n=n, c=c, s=s: make_checkpoint(n, c, out_dir, 100 + s)) for s, (n, c) in enumerate(CASES.items())]:
        try:
            step()
        except Exception:
            traceback.print_exc()
            failed = True
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
