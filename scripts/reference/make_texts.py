"""Writes the texts the Hugging Face reference fixtures tokenize: random mixes of words and of every kind of
character a GPT-2 or BERT pre-tokenizer treats apart (whitespace of every sort, contractions, digits of other
scripts, combining marks, emoji sequences, CJK, controls, private-use and unassigned code points).

Run: /usr/bin/python3 scripts/reference/make_texts.py OUT.json COUNT SEED [WORDS_FILE]
"""
import json
import random
import sys

PIECES = [
    # whitespace: ASCII, Unicode White_Space, and look-alikes that are not whitespace
    " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n", "\x0b", "\x0c", "\x85", "\xa0", "\u1680", "\u2003",
    "\u2009", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\u200b", "\u180e", "\ufeff", "\x1c", "\x1f",
    # contractions, in every case
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ll", "n't", "N'T", "''", "'", "’s",
    # digits and numbers of several scripts
    "0", "42", "3.14", "1,000", "٣٤", "१२", "²", "½", "Ⅻ", "①", "𝟗",
    # punctuation and symbols
    ".", ",", "!?", "...", "—", "–", "-", "«", "»", "“", "”", "(", ")", "[", "]", "{", "}", "$", "+", "<", "=",
    ">", "^", "`", "|", "~", "@", "#", "%", "&", "*", "/", "\\", "_", "€", "¥", "©", "°", "±", "×", "÷", "§",
    # letters with accents, composed and decomposed; case mappings that are not one-to-one
    "café", "cafe\u0301", "naïve", "Ölçü", "İstanbul", "ΣΟΦΟΣ", "ὈΔΥΣΣΕΎΣ", "Straße", "ẞ", "ﬁne", "Å", "\u212b",
    "Ǆ", "ǅ", "ǆ", "Ⓐ", "ß", "ŉ", "ǰ", "K", "ﬀ", "\u0345", "\u0301", "a\u0308\u0301",
    # other scripts
    "Москва", "привет", "Ελληνικά", "עברית", "العربية", "हिन्दी", "ภาษาไทย", "ქართული", "Հայերեն", "한국어",
    "텍스트", "日本語の", "テキスト", "ｶﾀｶﾅ", "床前明月光", "疑是地上霜", "，", "。", "𠀀", "𪚥", "ᄀ", "ᅡ",
    # emoji and sequences
    "😀", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "❤\ufe0f", "✌️", "🫠", "\u20e3",
    # controls, private use, unassigned, noncharacters
    "\x00", "\x01", "\x07", "\x7f", "\x9f", "\ue000", "\U000f0000", "\u0378", "\U0001fffe", "\ufffd", "\u00ad",
]


def texts(count, seed, words):
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 24)):
            r = rng.random()
            if r < 0.45 and words:
                word = rng.choice(words)
                parts.append(word.upper() if rng.random() < 0.1 else word.capitalize() if rng.random() < 0.2 else word)
            else:
                parts.append(rng.choice(PIECES))
            if rng.random() < 0.5:
                parts.append(" ")
        out.append("".join(parts))
    return out


def main():
    path, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    words = open(sys.argv[4], encoding="utf-8").read().split() if len(sys.argv) > 4 else []
    words = [w for w in words if w.isalpha()][:20000]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(texts(count, seed, words), f, ensure_ascii=False, indent=0)


main()
