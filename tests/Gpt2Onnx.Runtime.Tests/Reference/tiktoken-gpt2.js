// The independent reference for GPT-2 byte-level BPE: OpenAI's tiktoken (npm "tiktoken", the WASM
// build of the Rust library), "gpt2" encoding. Reads a JSON array of strings from the file named by
// argv[2], writes a JSON array of id arrays to the file named by argv[3]. Special-token text is
// encoded as ordinary text, as GPT-2's own encoder does.
const fs = require("fs");
const { get_encoding } = require("tiktoken");
const texts = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const encoding = get_encoding("gpt2");
const ids = texts.map((text) => Array.from(encoding.encode(text, [], [])));
encoding.free();
fs.writeFileSync(process.argv[3], JSON.stringify(ids));
