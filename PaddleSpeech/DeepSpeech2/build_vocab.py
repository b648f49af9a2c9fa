"""Write vocab.txt: every character of the training manifest's transcripts, one per line, sorted (the
release's build_vocab.py, count threshold 0). LibriSpeech gives 28: space, apostrophe, a-z.

    python build_vocab.py --manifest data/librispeech/manifest.train --out data/librispeech/vocab.txt
"""
import argparse
import json

import reader
import utils


def build_vocab(manifest):
    chars = set()
    for number, line in utils.read_lines(manifest):
        if line.strip():
            try:
                chars.update(reader.normalize_text(json.loads(line)["text"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise utils.DataError(f"{manifest}:{number}: not a json line with a text field") from None
    return reader.Vocab(sorted(chars))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--manifest", required=True, help="the training manifest")
    parser.add_argument("--out", required=True, help="the vocabulary file to write")
    args = parser.parse_args(argv)
    vocab = build_vocab(args.manifest)
    vocab.save(args.out)
    print(f"{args.out}: {len(vocab)} characters")


if __name__ == "__main__":
    utils.run_main(main)
