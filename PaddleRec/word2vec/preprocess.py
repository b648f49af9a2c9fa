"""Build and inspect the vocabulary of a corpus without training: the release's `preprocess.py
--build_dict` step. train.py does the same before its first step (and writes the same vocab.txt to
its run directory); this script is for looking at a corpus first: its size, the vocabulary at
--min_count, how much sub-sampling keeps, and the parameters the model will have.

    python preprocess.py --data_dir data/text8                    # DATA_DIR/text8 or the 1-billion shards
    python preprocess.py --data_dir data/text8 --min_count 6      # the release's own rule (count > 5)
    python preprocess.py --corpus my_corpus.txt --out my_vocab.txt
"""
import argparse
import os

import utils
import reader


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="dataset root (text8 or 1-billion layout)")
    parser.add_argument("--corpus", default=None, help="a corpus file or directory instead of the layouts")
    parser.add_argument("--min_count", type=int, default=5, help="words seen fewer times become <UNK>")
    parser.add_argument("--subsample", type=float, default=1e-3, help="sub-sampling threshold t")
    parser.add_argument("--text_filter", choices=["release", "none"], default="release",
                        help="release: lowercase, a-z only; none: lowercase only")
    parser.add_argument("--dim", type=int, default=300, help="embedding size, for the parameter count")
    parser.add_argument("--skip_bad_samples", action="store_true", help="skip and count lines that are not UTF-8")
    parser.add_argument("--out", default=None, help="where to write `word count` lines (default %(default)s: DATA_DIR/vocab.txt)")
    args = utils.parse_args(parser, argv)
    files = reader.corpus_files(args.data_dir, args.corpus)
    vocab, ids, starts, bad = reader.build_corpus(files, args.min_count, args.text_filter, args.skip_bad_samples)
    out = args.out or os.path.join(args.data_dir, reader.VOCAB_FILE)
    vocab.save(out)
    keep = reader.keep_probabilities(vocab.counts, args.subsample)
    kept = float((keep * vocab.counts).sum() / vocab.counts.sum())
    print(f"{len(ids):,} words in {len(starts):,} lines of {len(files)} file(s)" + (f", {bad} bad lines skipped" if bad else ""))
    print(f"vocabulary at min_count {args.min_count}: {len(vocab) - 1:,} words + <UNK> ({vocab.counts[vocab.unk_id]:,} "
          f"occurrences of rarer words) = {len(vocab):,} rows; written to {out}")
    print(f"sub-sampling at {args.subsample:g} keeps {kept:.1%} of the words (about {kept * len(ids):,.0f} an epoch)")
    print(f"skipgram at dim {args.dim}: {len(vocab) * (2 * args.dim + 1):,} parameters ({len(vocab):,} x (2 x {args.dim} + 1))")
    return vocab


if __name__ == "__main__":
    utils.run_main(main)
