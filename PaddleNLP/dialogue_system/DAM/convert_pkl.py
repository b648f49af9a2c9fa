"""Convert the release's pickled data (data_small.pkl / data.pkl: a (train, val, test) tuple of dicts
with the labels `y`, the contexts `c` as word ids with the turns joined by an _EOS_ id, and the
responses `r`) into the text layout this folder reads.

    python convert_pkl.py --pkl data/ubuntu/data_small.pkl --eos 28270 --vocab_size 434512 --out_dir data/ubuntu_pkl
    python convert_pkl.py --pkl data/douban/data_small.pkl --eos 1 --vocab_size 172130 --out_dir data/douban_pkl

The pickles hold ids, not words, so the "words" of the text files are the ids themselves and
vocab.txt maps each id to itself (ids 1..--vocab_size, or up to the largest id seen): the model sees
exactly the release's ids, and its embedding has the release's vocab_size + 1 rows. Writes
train.txt, valid.txt and test.txt (val and test keep their groups of 10 lines).
"""
import argparse
import os
import pickle


def split_turns(context, eos):
    """The release's split_c: cut at every eos id; a trailing empty turn is dropped."""
    turns = [[]]
    for word in context:
        if word == eos:
            turns.append([])
        else:
            turns[-1].append(word)
    if len(turns) > 1 and not turns[-1]:
        turns.pop()
    return turns


def field(data, key):
    return data[key.encode()] if key.encode() in data else data[key]


def write_split(data, path, eos):
    """Lines `label<TAB>turn ids...<TAB>response ids`; returns the largest id written."""
    largest = 0
    with open(path, "w", encoding="utf-8") as f:
        for y, c, r in zip(field(data, "y"), field(data, "c"), field(data, "r")):
            turns = split_turns(list(c), eos)
            largest = max([largest, *c, *r])
            f.write("\t".join([str(int(y)), *(" ".join(map(str, t)) for t in turns), " ".join(map(str, r))]) + "\n")
    return largest


def convert(pkl, out_dir, eos, vocab_size=0):
    with open(pkl, "rb") as f:
        splits = pickle.load(f, encoding="bytes")
    os.makedirs(out_dir, exist_ok=True)
    largest = max(write_split(data, os.path.join(out_dir, f"{name}.txt"), eos)
                  for data, name in zip(splits, ("train", "valid", "test")))
    with open(os.path.join(out_dir, "vocab.txt"), "w", encoding="utf-8") as f:
        f.writelines(f"{i}\t{i}\n" for i in range(1, max(vocab_size, largest) + 1) if i != eos)
    return out_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pkl", required=True, help="the release's data_small.pkl or data.pkl")
    parser.add_argument("--eos", type=int, required=True, help="the _EOS_ id joining the turns (Ubuntu 28270, Douban 1)")
    parser.add_argument("--vocab_size", type=int, default=0,
                        help="ids 1..N in vocab.txt (the release: Ubuntu 434512, Douban 172130; 0: the largest id seen)")
    parser.add_argument("--out_dir", required=True, help="where to write vocab.txt, train.txt, valid.txt, test.txt")
    args = parser.parse_args()
    print(f"wrote {convert(args.pkl, args.out_dir, args.eos, args.vocab_size)}/vocab.txt, train.txt, valid.txt, test.txt")


if __name__ == "__main__":
    main()
