"""Write a small PTB-format corpus from real English prose: the Python documentation topics that
ship with every Python (`pydoc_data.topics`, about 65k words), tokenised PTB style.

    data/demo/ptb.train.txt   ptb.valid.txt   ptb.test.txt

One sentence per line, tokens separated by spaces, lower case, numbers as `N`, and words seen fewer
than --min_count times in the training split replaced by `<unk>`, as in Mikolov's PTB files. Code
examples and grammar rules are left out; only prose paragraphs are kept. The sentences stay in
reading order and go to the splits in blocks (8 train, 1 valid, 1 test out of every 10), so
neighbouring sentences stay together, as in PTB, and every split covers every topic.

Deterministic: the same Python version gives the same files (the topics text changes a little
between Python releases).
"""
import argparse
import collections
import os
import re

import tokenizer

UNDERLINE_RE = re.compile(r"^\s*([*=\-^~\"])\1{3,}\s*$")


def prose_paragraphs(text):
    """Paragraphs of a documentation topic that are prose, not code, grammar or headings."""
    lines = text.splitlines()
    paragraphs, current = [], []
    for i, line in enumerate(lines):
        heading = i + 1 < len(lines) and UNDERLINE_RE.match(lines[i + 1])
        if not line.strip() or UNDERLINE_RE.match(line) or heading:
            if current:
                paragraphs.append(current)
            current = []
        else:
            current.append(line)
    if current:
        paragraphs.append(current)
    prose = []
    for block in paragraphs:
        text = " ".join(line.strip() for line in block)
        indented = block[0].startswith("   ")
        # Indented blocks are code or grammar unless they read as sentences (the "See also" notes).
        if (indented and not text.endswith(".")) or "::=" in text or text.startswith(">>>"):
            continue
        prose.append(text)
    return prose


def corpus_sentences():
    """Tokenised sentences of all topics, in a fixed order."""
    from pydoc_data.topics import topics
    sentences = []
    for name in sorted(topics):
        for paragraph in prose_paragraphs(topics[name]):
            for sentence in tokenizer.split_sentences(paragraph):
                tokens = tokenizer.tokenize(sentence)
                if len(tokens) >= 3:
                    sentences.append(tokens)
    return sentences


def make_demo_data(out_dir, min_count=3, block=40, max_sentences=0):
    sentences = corpus_sentences()
    if max_sentences:
        sentences = sentences[:max_sentences]
    splits = {"train": [], "valid": [], "test": []}
    for i in range(0, len(sentences), block):
        k = (i // block) % 10
        splits["train" if k < 8 else "valid" if k == 8 else "test"].extend(sentences[i:i + block])
    counts = collections.Counter(t for s in splits["train"] for t in s)
    keep = {w for w, c in counts.items() if c >= min_count}
    os.makedirs(out_dir, exist_ok=True)
    for split, lines in splits.items():
        with open(os.path.join(out_dir, f"ptb.{split}.txt"), "w", encoding="utf-8") as f:
            # PTB lines start and end with a space: " word word \n"
            f.writelines(" " + " ".join(t if t in keep else "<unk>" for t in s) + " \n" for s in lines)
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where the three PTB files are written")
    parser.add_argument("--min_count", type=int, default=3, help="rarer training words become <unk>")
    parser.add_argument("--block", type=int, default=40, help="consecutive sentences that go to one split")
    args = parser.parse_args()
    make_demo_data(args.out_dir, args.min_count, args.block)
    sizes = {}
    for split in ("train", "valid", "test"):
        with open(os.path.join(args.out_dir, f"ptb.{split}.txt"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        sizes[split] = f"{len(lines)} sentences, {sum(len(l.split()) + 1 for l in lines)} tokens"
    print(f"demo data written to {args.out_dir}: " + "; ".join(f"{k} {v}" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
