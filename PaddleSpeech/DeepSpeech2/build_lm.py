"""Estimate the character n-gram language model that beam search can use (--lm), from a text file
(one sentence per line) or from a manifest's transcripts. KenLM, which the release used for its word
n-grams, is not available here; see ctc_decoders.CharNgramLM.

    python build_lm.py --manifest data/demo/manifest.train --out data/demo/char_lm.json --order 5
"""
import argparse
import json

import reader
import utils
from ctc_decoders import CharNgramLM


def sentences_of(path, is_manifest):
    out = []
    for number, line in utils.read_lines(path):
        if not line.strip():
            continue
        if is_manifest:
            try:
                line = json.loads(line)["text"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise utils.DataError(f"{path}:{number}: not a json line with a text field") from None
        out.append(reader.normalize_text(line))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", help="take the transcripts of this manifest")
    source.add_argument("--text", help="a text file, one sentence per line")
    parser.add_argument("--out", required=True, help="the LM file (json) to write")
    parser.add_argument("--order", type=int, default=5, help="n-gram order in characters")
    args = parser.parse_args(argv)
    lm = CharNgramLM.train(sentences_of(args.manifest or args.text, bool(args.manifest)), args.order)
    lm.save(args.out)
    print(f"{args.out}: {args.order}-gram character LM, {len(lm.counts)} contexts")


if __name__ == "__main__":
    utils.run_main(main)
