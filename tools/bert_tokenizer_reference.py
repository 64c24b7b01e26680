#!/usr/bin/env python3
"""bert_tokenizer_reference.py — BERT's tokenizer in plain Python, written from the published
algorithm (google-research/bert, tokenization.py: BasicTokenizer + WordpieceTokenizer), as the
reference that cxrlab's C++ tokenizer (text/wordpiece.cpp) is checked against.

  basic:     clean text (drop NUL, U+FFFD, Cc/Cf controls except \\t\\n\\r; whitespace -> ' '),
             put spaces around CJK ideographs, split on whitespace, optionally lower-case and strip
             accents (NFD, drop category Mn), split off every punctuation character
  wordpiece: greedy longest-match-first with "##" continuations; a word longer than 100
             characters, or one that cannot be covered, is [UNK]
  features:  [CLS] + tokens[:max_seq_length-2] + [SEP], zero-padded; mask 1/0; segments 0
             (METHODS.md §4)
Command line:  bert_tokenizer_reference.py --vocab VOCAB [--cased] [--max-seq-length N] < text
prints, per input line, the tokens and their ids.
"""
import argparse
import sys
import unicodedata


def load_vocab(path):
    """One token per line; '\\n' (and a trailing '\\r') stripped; a repeated token keeps its last id."""
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    vocab = {}
    for i, line in enumerate(lines):
        if line.endswith("\r"):
            line = line[:-1]
        vocab[line] = i
    return vocab


def _is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch) in ("Cc", "Cf")


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def whitespace_tokenize(text):
    text = text.strip()
    return text.split() if text else []


class BasicTokenizer:
    def __init__(self, do_lower_case=True, tokenize_chinese_chars=True):
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars

    def tokenize(self, text):
        text = self._clean_text(text)
        if self.tokenize_chinese_chars:
            text = self._tokenize_chinese_chars(text)
        split_tokens = []
        for token in whitespace_tokenize(text):
            if self.do_lower_case:
                token = self._strip_accents(token.lower())
            split_tokens.extend(self._split_on_punc(token))
        return whitespace_tokenize(" ".join(split_tokens))

    @staticmethod
    def _strip_accents(text):
        return "".join(ch for ch in unicodedata.normalize("NFD", text) if unicodedata.category(ch) != "Mn")

    @staticmethod
    def _split_on_punc(text):
        out, start_new = [], True
        for ch in text:
            if _is_punctuation(ch):
                out.append([ch])
                start_new = True
            else:
                if start_new:
                    out.append([])
                start_new = False
                out[-1].append(ch)
        return ["".join(x) for x in out]

    @staticmethod
    def _tokenize_chinese_chars(text):
        return "".join(f" {ch} " if _is_chinese_char(ord(ch)) else ch for ch in text)

    @staticmethod
    def _clean_text(text):
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            out.append(" " if _is_whitespace(ch) else ch)
        return "".join(out)


class WordpieceTokenizer:
    def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=100):
        self.vocab, self.unk_token, self.max_chars = vocab, unk_token, max_input_chars_per_word

    def tokenize(self, text):
        output = []
        for token in whitespace_tokenize(text):
            chars = list(token)
            if len(chars) > self.max_chars:
                output.append(self.unk_token)
                continue
            sub_tokens, start, bad = [], 0, False
            while start < len(chars):
                end, cur = len(chars), None
                while start < end:
                    substr = "".join(chars[start:end])
                    if start > 0:
                        substr = "##" + substr
                    if substr in self.vocab:
                        cur = substr
                        break
                    end -= 1
                if cur is None:
                    bad = True
                    break
                sub_tokens.append(cur)
                start = end
            output.extend([self.unk_token] if bad else sub_tokens)
        return output


class BertTokenizer:
    def __init__(self, vocab_path, do_lower_case=True):
        self.vocab = load_vocab(vocab_path)
        self.basic = BasicTokenizer(do_lower_case)
        self.wordpiece = WordpieceTokenizer(self.vocab)

    def tokenize(self, text):
        return [p for w in self.basic.tokenize(text) for p in self.wordpiece.tokenize(w)]

    def convert_tokens_to_ids(self, tokens):
        return [self.vocab[t] for t in tokens]

    def features(self, text, max_seq_length=320):
        tokens = ["[CLS]"] + self.tokenize(text)[:max_seq_length - 2] + ["[SEP]"]
        ids = self.convert_tokens_to_ids(tokens)
        mask = [1] * len(ids)
        pad = max_seq_length - len(ids)
        return ids + [0] * pad, mask + [0] * pad, [0] * max_seq_length


def fnv1a_ids(ids):
    h = 14695981039346656037
    for i in ids:
        h = ((h ^ (i & 0xFFFFFFFFFFFFFFFF)) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def fnv1a_bytes(data):
    h = 14695981039346656037
    for b in data:
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab", required=True)
    ap.add_argument("--cased", action="store_true", help="no lower-casing / accent stripping")
    args = ap.parse_args()
    tok = BertTokenizer(args.vocab, do_lower_case=not args.cased)
    for line in sys.stdin:
        tokens = tok.tokenize(line)
        print(" ".join(tokens))
        print(" ".join(map(str, tok.convert_tokens_to_ids(tokens))))


if __name__ == "__main__":
    main()
