// The peer for the tokenizer benchmark: OpenAI's tiktoken (npm, WASM build), "gpt2" encoding, one thread.
// Usage: node tiktoken-throughput.js FILE REPEATS → one JSON line {tokens, seconds, mb_per_s} (fastest run).
const fs = require("fs");
const { get_encoding } = require("tiktoken");
const text = fs.readFileSync(process.argv[2], "utf8");
const repeats = Number(process.argv[3] || 3);
const bytes = Buffer.byteLength(text, "utf8");
const encoding = get_encoding("gpt2");
let best = Infinity, tokens = 0;
for (let i = 0; i < repeats; i++) {
  const start = process.hrtime.bigint();
  tokens = encoding.encode(text, [], []).length;
  best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e9);
}
encoding.free();
console.log(JSON.stringify({ tokens, seconds: best, mb_per_s: bytes / 1e6 / best }));
