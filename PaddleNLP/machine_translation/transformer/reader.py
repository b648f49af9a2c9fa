"""The only data path: the parallel text on disk, its vocabulary, and the token-count batches.

Two layouts (README, Data):

1. The WMT16 en-de layout of the PaddlePaddle release (the default). In DATA_DIR:
       vocab_all.bpe.32000                  the joint BPE vocabulary, one token a line; <s> <e> <unk> among them
       train.tok.clean.bpe.32000.en-de      tokenized, BPE-applied lines: source TAB target
       newstest2013.tok.bpe.32000.en-de     the dev split (selects best.pdparams)
       newstest2014.tok.bpe.32000.en-de     the test split (eval.py)
   Tokens are separated by single spaces; a BPE piece that continues into the next ends with `@@`.
   PaddleNLP 2.8.1's WMT14 en-de layout (its `wmt14ende` dataset, WMT14.en-de/wmt14_ende_data_bpe/) is read
   too: vocab_all.bpe.33708 and each split as two BPE files, NAME.en and NAME.de (train.tok.clean.bpe.33708,
   newstest2013.tok.bpe.33708, newstest2014.tok.bpe.33708). These names are the defaults when the
   release's files are absent; any --*_file NAME without a NAME file reads NAME.SRC + NAME.TRG.
2. Raw parallel text with a shared sentencepiece model (`--spm_model`). In DATA_DIR:
       train.en train.de   dev.en dev.de   test.en test.de      (line k of .en translates line k of .de)
   The pieces and their ids come from the model (train_spm.py trains one with <s>=0, <e>=1, <unk>=2).

A source sentence is its ids followed by <e>; the target is read as <s> y (decoder input) and y <e>
(labels). Batches hold up to --batch_size tokens, counted as the release does: the longest sentence
of the batch (with its <s> or <e>) times the number of sentences. Sentences are shuffled, sorted by
length inside pools, cut into batches, and the batches shuffled, every epoch with its own seed.
"""
import glob
import os

import numpy as np

import utils

BOS, EOS, UNK = "<s>", "<e>", "<unk>"
BPE_FILES = {"train": "train.tok.clean.bpe.32000.en-de", "dev": "newstest2013.tok.bpe.32000.en-de",
             "test": "newstest2014.tok.bpe.32000.en-de", "vocab": "vocab_all.bpe.32000"}
PADDLENLP_FILES = {"train": "train.tok.clean.bpe.33708", "dev": "newstest2013.tok.bpe.33708",
                   "test": "newstest2014.tok.bpe.33708", "vocab": "vocab_all.bpe.33708"}
RAW_FILES = {"train": "train", "dev": "dev", "test": "test"}


def remove_bpe(text):
    """`New@@ ton@@ ian` -> `Newtonian` (the release's `sed -r 's/(@@ )|(@@ ?$)//g'`)."""
    return (text + " ").replace("@@ ", "").rstrip() if "@@" in text else text


class Vocabulary:
    """Token <-> id over one joint vocabulary; an unknown token is <unk>. The id of a token is its line
    number from 0; a token on two lines gets the later line's id, as in PaddleNLP's
    Vocab.load_vocabulary (bos <s>, eos <e>, unk <unk> are found by name, so PaddleNLP's vocab_all.bpe.33708
    gives its ids 0, 1, 2). Ids past the vocabulary (PaddleNLP's model pads its 33708 rows to 33712)
    read as <unk>."""

    def __init__(self, tokens, where="vocabulary"):
        self.tokens = list(tokens)
        self.ids = {}
        for i, token in enumerate(self.tokens):
            self.ids[token] = i
        missing = [t for t in (BOS, EOS, UNK) if t not in self.ids]
        if missing:
            raise utils.DataError(f"{where}:1: the vocabulary lacks {' '.join(missing)} (it needs <s> <e> <unk>)")
        self.bos_id, self.eos_id, self.unk_id = self.ids[BOS], self.ids[EOS], self.ids[UNK]

    def __len__(self):
        return len(self.tokens)

    @classmethod
    def load(cls, path):
        if not os.path.isfile(path):
            raise utils.DataError(f"{path}: file not found")
        return cls([text.strip() for _, text in utils.read_lines(path)], path)

    def save(self, path):
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(t + "\n" for t in self.tokens)

    def encode(self, tokens):
        return [self.ids.get(t, self.unk_id) for t in tokens]

    def decode(self, ids):
        return [self.tokens[i] if 0 <= i < len(self.tokens) else UNK for i in ids]


class Tokenizer:
    """Text <-> ids for one layout: BPE text (tokens split on spaces) or raw text with a sentencepiece
    model. `to_text` gives what BLEU is computed on: the tokenized text (BPE removed) and the
    detokenized text."""

    def __init__(self, vocab, spm_model=None, trg_lang="de"):
        self.vocab, self.spm, self.trg_lang = vocab, None, trg_lang
        if spm_model:
            import sentencepiece
            self.spm = sentencepiece.SentencePieceProcessor(model_file=spm_model)
        self._detok = self._tok = None

    @classmethod
    def from_spm(cls, spm_model, trg_lang="de"):
        import sentencepiece
        if not os.path.isfile(spm_model):
            raise utils.DataError(f"{spm_model}: file not found")
        sp = sentencepiece.SentencePieceProcessor(model_file=spm_model)
        pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        return cls(Vocabulary(pieces, spm_model), spm_model, trg_lang)

    def pieces(self, text):
        return self.spm.encode(text, out_type=str) if self.spm else text.split()

    def encode(self, text):
        return self.vocab.encode(self.pieces(text))

    def detokenize(self, tokenized):
        if self._detok is None:
            from sacremoses import MosesDetokenizer
            self._detok = MosesDetokenizer(lang=self.trg_lang)
        return self._detok.detokenize(tokenized.split())

    def tokenize(self, raw):
        if self._tok is None:
            from sacremoses import MosesTokenizer
            self._tok = MosesTokenizer(lang=self.trg_lang)
        return self._tok.tokenize(raw, return_str=True, escape=False)

    def to_text(self, ids):
        """(tokenized text, detokenized text) of target ids (without <s>/<e>)."""
        pieces = self.vocab.decode(ids)
        if self.spm:
            raw = self.spm.decode_pieces(pieces)
            return self.tokenize(raw), raw
        tokenized = remove_bpe(" ".join(pieces))
        return tokenized, self.detokenize(tokenized)


def _decode_lines(path, skip_bad, counter):
    """[(line number, text)] of a file; a byte that is not UTF-8 stops with the file and line, or is
    skipped and counted with skip_bad."""
    if not os.path.isfile(path):
        raise utils.DataError(f"{path}: file not found")
    with open(path, "rb") as f:
        raw = f.read().split(b"\n")
    if raw and raw[-1] == b"":
        raw.pop()
    lines = []
    for number, line in enumerate(raw, 1):
        try:
            lines.append((number, line.decode("utf-8").rstrip("\r")))
        except UnicodeDecodeError as e:
            bad(f"{path}:{number}: not UTF-8 text (byte {e.start + 1} of the line)", skip_bad, counter)
    return lines


def bad(message, skip_bad, counter):
    if not skip_bad:
        raise utils.DataError(message)
    counter["bad"] += 1
    print(f"skipped bad sample: {message}", flush=True)


def split_paths(data_dir, split, files, spm_model, src_lang="en", trg_lang="de"):
    """The file(s) of a split: [tsv path] for the BPE layout (the train split may be a glob pattern),
    [source path, target path] for raw text."""
    name = files.get(split) or (RAW_FILES if spm_model else BPE_FILES)[split]
    if spm_model:
        return Paired([os.path.join(data_dir, f"{name}.{src_lang}"), os.path.join(data_dir, f"{name}.{trg_lang}")])
    if not files.get(split) and not glob.glob(os.path.join(data_dir, name)) \
            and os.path.isfile(os.path.join(data_dir, f"{PADDLENLP_FILES[split]}.{src_lang}")):
        name = PADDLENLP_FILES[split]  # PaddleNLP's layout
    pattern = os.path.join(data_dir, name)
    paired = [f"{pattern}.{src_lang}", f"{pattern}.{trg_lang}"]
    if not glob.glob(pattern) and os.path.isfile(paired[0]):
        return Paired(paired)  # PaddleNLP's layout: NAME.SRC and NAME.TRG, BPE text
    return sorted(glob.glob(pattern)) or [pattern]


class Paired(list):
    """[source file, target file], line k of one translating line k of the other."""


def read_pairs(paths, spm_model, skip_bad=False, counter=None):
    """[(where, source text, target text)] of a split, checked line by line."""
    counter = counter if counter is not None else {"bad": 0}
    pairs = []
    if isinstance(paths, Paired) or spm_model:
        src_path, trg_path = paths
        src, trg = _decode_lines(src_path, skip_bad, counter), _decode_lines(trg_path, skip_bad, counter)
        if len(src) != len(trg) and not counter["bad"]:
            longer, path = (src, src_path) if len(src) > len(trg) else (trg, trg_path)
            raise utils.DataError(f"{path}:{min(len(src), len(trg)) + 1}: {src_path} has {len(src)} lines, "
                                  f"{trg_path} has {len(trg)}; line k of one must translate line k of the other")
        targets = dict(trg)
        for number, text in src:
            if number not in targets:
                continue
            where = f"{src_path}:{number}"
            if not text.strip() or not targets[number].strip():
                bad(f"{where}: empty {'source' if not text.strip() else 'target'} sentence", skip_bad, counter)
                continue
            pairs.append((where, text, targets[number]))
        return pairs
    for path in paths:
        for number, text in _decode_lines(path, skip_bad, counter):
            where = f"{path}:{number}"
            fields = text.split("\t")
            if not text.strip():
                bad(f"{where}: empty line", skip_bad, counter)
            elif len(fields) != 2:
                bad(f"{where}: expected source TAB target, found {len(fields)} tab-separated field"
                    + ("s" if len(fields) != 1 else " (no tab)"), skip_bad, counter)
            elif not fields[0].strip() or not fields[1].strip():
                bad(f"{where}: empty {'source' if not fields[0].strip() else 'target'} side", skip_bad, counter)
            else:
                pairs.append((where, fields[0].strip(), fields[1].strip()))
    return pairs


class ParallelData:
    """One split as id arrays: src (ids + <e>), trg (ids, without <s>/<e>), the references (tokenized
    and detokenized) and where each pair came from. Pairs longer than max_length (counting <e>) are
    dropped in training and counted; eval keeps them and truncates (with a warning)."""

    def __init__(self, pairs, tokenizer, max_length, filter_long=True):
        vocab = tokenizer.vocab
        self.where, self.src, self.trg, self.ref_tok, self.ref_raw = [], [], [], [], []
        self.too_long = 0  # dropped (training) or truncated (evaluation)
        for where, src_text, trg_text in pairs:
            src, trg = tokenizer.encode(src_text), tokenizer.encode(trg_text)
            if max(len(src), len(trg)) + 1 > max_length:
                self.too_long += 1
                if filter_long:
                    continue
                src = src[:max_length - 1]
            self.where.append(where)
            self.src.append(np.asarray(src + [vocab.eos_id], dtype=np.int64))
            self.trg.append(np.asarray(trg, dtype=np.int64))
            if tokenizer.spm:
                self.ref_raw.append(trg_text)
                self.ref_tok.append(None)  # filled lazily by references()
            else:
                self.ref_tok.append(remove_bpe(trg_text))
                self.ref_raw.append(None)
        self.tokenizer = tokenizer
        self.lengths = np.array([max(len(s), len(t) + 1) for s, t in zip(self.src, self.trg)], dtype=np.int64)

    def __len__(self):
        return len(self.src)

    def references(self):
        """(tokenized references, detokenized references)."""
        tk = self.tokenizer
        tok = [r if r is not None else tk.tokenize(raw) for r, raw in zip(self.ref_tok, self.ref_raw)]
        raw = [r if r is not None else tk.detokenize(t) for r, t in zip(self.ref_raw, tok)]
        return tok, raw

    def batch(self, indices, pad_id, bos_id, eos_id):
        """Padded arrays for training: src [B, S], trg_in <s> y [B, T], labels y <e> [B, T] (pad: pad_id)."""
        srcs = [self.src[i] for i in indices]
        trgs = [self.trg[i] for i in indices]
        s_len, t_len = max(len(s) for s in srcs), max(len(t) for t in trgs) + 1
        src = np.full((len(indices), s_len), pad_id, dtype=np.int64)
        trg_in = np.full((len(indices), t_len), pad_id, dtype=np.int64)
        labels = np.full((len(indices), t_len), pad_id, dtype=np.int64)
        for row, (s, t) in enumerate(zip(srcs, trgs)):
            src[row, :len(s)] = s
            trg_in[row, 0], trg_in[row, 1:len(t) + 1] = bos_id, t
            labels[row, :len(t)], labels[row, len(t)] = t, eos_id
        return src, trg_in, labels


def token_batches(lengths, max_tokens, seed, pool_size=200000, shuffle=True):
    """Index lists of at most max_tokens tokens (longest x count), in the release's way: shuffle,
    sort by length inside pools (alternating direction), cut, shuffle the batches."""
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
    batches, reverse = [], True
    for start in range(0, len(order), pool_size):
        reverse = not reverse
        pool = order[start:start + pool_size]
        pool = pool[np.argsort(lengths[pool], kind="stable")]
        if reverse:
            pool = pool[::-1]
        batch, longest = [], 0
        for i in pool:
            longest_with = max(longest, lengths[i])
            if batch and longest_with * (len(batch) + 1) > max_tokens:
                batches.append(batch)
                batch, longest_with = [], lengths[i]
            batch.append(int(i))
            longest = longest_with
        if batch:
            batches.append(batch)
    if shuffle:
        rng.shuffle(batches)
    return batches


def load_tokenizer(data_dir, spm_model=None, vocab_file=None, trg_lang="de"):
    if spm_model:
        return Tokenizer.from_spm(spm_model, trg_lang)
    if not vocab_file:
        vocab_file = BPE_FILES["vocab"]
        if not os.path.isfile(os.path.join(data_dir, vocab_file)) \
                and os.path.isfile(os.path.join(data_dir, PADDLENLP_FILES["vocab"])):
            vocab_file = PADDLENLP_FILES["vocab"]  # PaddleNLP's layout
    return Tokenizer(Vocabulary.load(os.path.join(data_dir, vocab_file)), trg_lang=trg_lang)


def run_tokenizer(folder, trg_lang="de"):
    """The tokenizer a run trained with, from the files train.py (or export.py) put in its folder:
    vocab.txt, and spm.model for raw text."""
    vocab_path, spm_path = os.path.join(folder, "vocab.txt"), os.path.join(folder, "spm.model")
    if not os.path.isfile(vocab_path):
        raise utils.CheckpointError(f"no vocabulary at {vocab_path}; it is written by train.py")
    return Tokenizer(Vocabulary.load(vocab_path), spm_path if os.path.isfile(spm_path) else None, trg_lang)


def load_split(args, split, tokenizer, filter_long=True, counter=None):
    """A split of args.data_dir in the run's layout, parsed and checked."""
    files = {"train": args.train_file, "dev": args.dev_file, "test": args.test_file}
    paths = split_paths(args.data_dir, split, files, args.spm_model, args.src_lang, args.trg_lang)
    pairs = read_pairs(paths, args.spm_model, args.skip_bad_samples, counter)
    if not pairs:
        raise utils.DataError(f"{paths[0]}:1: no sentence pairs in the file")
    return ParallelData(pairs, tokenizer, args.max_length, filter_long)


def add_data_flags(parser):
    g = parser.add_argument_group("data (README, Data)")
    g.add_argument("--spm_model", default=None,
                   help="raw parallel text DATA_DIR/{train,dev,test}.{SRC,TRG} with this sentencepiece model "
                        "(None: the release's tokenized BPE layout)")
    g.add_argument("--src_lang", default="en", help="source language: file suffix of raw text")
    g.add_argument("--trg_lang", default="de", help="target language: raw text suffix, Moses (de)tokenizer language")
    g.add_argument("--train_file", default=None,
                   help=f"training file or glob in DATA_DIR (None: {BPE_FILES['train']}; raw text: train)")
    g.add_argument("--dev_file", default=None, help=f"dev split (None: {BPE_FILES['dev']}; raw text: dev)")
    g.add_argument("--test_file", default=None, help=f"test split (None: {BPE_FILES['test']}; raw text: test)")
    g.add_argument("--vocab_file", default=None, help=f"joint vocabulary in DATA_DIR (None: {BPE_FILES['vocab']}, "
                                                           f"else PaddleNLP's {PADDLENLP_FILES['vocab']})")
    return parser
