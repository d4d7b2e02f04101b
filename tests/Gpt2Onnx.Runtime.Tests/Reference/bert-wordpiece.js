// The independent reference for BERT-style WordPiece: tokenizers.js (npm "@huggingface/tokenizers", the
// JavaScript port of Hugging Face's tokenizers) with BertNormalizer, BertPreTokenizer and a WordPiece model.
// Reads {vocab, lowercase, strip_accents, handle_chinese_chars, texts} from the file named by argv[2] and
// writes a JSON array of id arrays to the file named by argv[3]. No special tokens are added or matched.
const fs = require("fs");
const { Tokenizer } = require("@huggingface/tokenizers");
const input = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const tokenizer = new Tokenizer({
  version: "1.0",
  added_tokens: [],
  normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: input.handle_chinese_chars,
                lowercase: input.lowercase, strip_accents: input.strip_accents },
  pre_tokenizer: { type: "BertPreTokenizer" },
  post_processor: null,
  decoder: null,
  model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100,
           vocab: Object.fromEntries(input.vocab.map((token, id) => [token, id])) },
}, {});
const ids = input.texts.map((text) => Array.from(tokenizer.encode(text, { add_special_tokens: false }).ids));
fs.writeFileSync(process.argv[3], JSON.stringify(ids));
