"""A local Hugging Face tokenizer directory for genai-perf's --tokenizer.

genai-perf counts prompt and output tokens with a Hugging Face tokenizer and,
without --tokenizer, downloads one from the Hugging Face hub. surge's models
carry their own tokenizers, so this builds the equivalent locally instead:

    python make_tokenizer.py --sentencepiece MODEL.model OUT_DIR   # kjv_lm's SentencePiece model
    python make_tokenizer.py --bytes OUT_DIR                       # one token per UTF-8 byte (echo_lm)

Runs in the genai-perf virtualenv (transformers, tokenizers, sentencepiece,
protobuf: bench/genai_perf/requirements.txt) and never touches the network.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def from_sentencepiece(model_file: str):
    # transformers' own converter (the one AutoTokenizer uses for slow
    # SentencePiece tokenizers): pieces, scores and normalization as trained.
    from tokenizers import Tokenizer
    from tokenizers.models import BPE
    from transformers.convert_slow_tokenizer import SpmConverter
    from transformers.tokenization_utils_base import generate_merges

    class _Original:
        vocab_file = model_file
        legacy = False
        add_prefix_space = True

    class _Converter(SpmConverter):
        def tokenizer(self, proto):
            if proto.trainer_spec.model_type != 2:  # unigram: the converter's own way
                return super().tokenizer(proto)
            # BPE: transformers 5's converter hands its extractor the wrong
            # argument here. A SentencePiece BPE model lists its pieces in
            # merge order, which is the order generate_merges follows.
            vocab = {piece.piece: index for index, piece in enumerate(proto.pieces)}
            return Tokenizer(
                BPE(vocab, generate_merges(vocab), unk_token=proto.trainer_spec.unk_piece, fuse_unk=True,
                    byte_fallback=self.handle_byte_fallback, dropout=None)
            )

    return _Converter(_Original()).converted()


def byte_level():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    # BPE without merges over the 256-symbol byte alphabet: every byte is one token.
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {symbol: index for index, symbol in enumerate(sorted(alphabet))}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sentencepiece", metavar="MODEL_FILE")
    source.add_argument("--bytes", action="store_true")
    parser.add_argument("out_dir")
    args = parser.parse_args()

    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tokenizer = from_sentencepiece(args.sentencepiece) if args.sentencepiece else byte_level()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer).save_pretrained(args.out_dir)
    # Load it back the way genai-perf will, and check it round-trips text.
    loaded = AutoTokenizer.from_pretrained(args.out_dir)
    sample = "In the beginning God created the heaven and the earth."
    ids = loaded.encode(sample, add_special_tokens=False)
    if not ids or loaded.decode(ids).strip() != sample:
        print(f"make_tokenizer: {args.out_dir} does not round-trip {sample!r} (got ids {ids[:16]})", file=sys.stderr)
        return 1
    print(f"make_tokenizer: {args.out_dir}: {len(ids)} tokens for {len(sample)} characters of sample text")
    return 0


if __name__ == "__main__":
    sys.exit(main())
