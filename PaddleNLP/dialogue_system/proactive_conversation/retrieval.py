"""The release's retrieval baseline (retrieval_paddle), `--model retrieval`: candidate replies are
built from the training replies with the release's slot generalization, and a Transformer encoder
scores each (context, candidate) pair; the best-scored candidate is the reply.

Candidates (tools/build_candidate_set_from_corpus.py and construct_candidate.py):
- from every training session, each bot turn j becomes a template: the objects of the topics'
  triples that occur in the session's bot turns are replaced by slots `topic_a_<predicate>` /
  `topic_b_<predicate>` (longest object first) and the topic names by `topic_a` / `topic_b` (the
  "generalized" set; templates with nested slots are dropped), and a second template replaces the
  topic names only (the "materialized" set). Both are keyed by `domain_a _ domain_b _ j`; all
  materialized templates form a third, unkeyed list. (The release shares one slot list between
  all turns of a session, so a turn's template also takes the objects other bot turns mention; so
  does this.)
- for a sample, templates are drawn in a seeded random order from the generalized set of its key,
  then the materialized set, then the list, keeping those whose every slot this sample's knowledge
  fills (a random object when a predicate has several) and that are new, up to --num_candidates (the
  release's 9). The gold reply joins them (label 1, the others 0).

The ranker (release: "match_kn_gene"): the topic placeholders of the generative model, the input
`[CLS] history [SEP] candidate [SEP] goal [SEP] knowledge [SEP]` (segment 0, the candidate segment
1), word + position + segment embeddings, a post-norm Transformer encoder with ReLU, tanh(fc) of
[CLS], fc -> 2 classes, cross-entropy over the pairs. Differences from the release: words, not the
release's characters of Chinese words; the knowledge is a third part of the input instead of the
release's separate GRU memory network; sizes are flags (the release's class defaults are embedding
1024, 12 layers, 1 head; this folder's defaults are smaller and say so in --help).

Metrics: hits@1 (the gold reply ranked first among its candidates) and, on the chosen reply,
DuConv's F1, BLEU-1/2, DISTINCT-1/2 (metric.py).
"""
import math
import os
import random

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

import reader
import utils

CLS, SEP = "[CLS]", "[SEP]"
DEFAULTS = {"hidden_size": 128, "dropout": 0.1, "batch_size": 64, "lr": 0.0005, "epochs": 10}


# ------------------------------------------------------------------------------------- candidates

def _slots(sample):
    """{slot: [objects]} of a sample's topics (the release's knowledge_dict) and its domains."""
    topic_a, topic_b = sample["goal"][0][1], sample["goal"][0][2]
    slots, domains = {"topic_a": [topic_a], "topic_b": [topic_b]}, {}
    for s, p, o in sample["knowledge"]:
        for side, name in (("a", topic_a), ("b", topic_b)):
            if s.replace(" ", "") == name.replace(" ", ""):
                slots.setdefault(f"topic_{side}_{p.replace(' ', '')}", []).append(o)
                if p == reader.DOMAIN:
                    domains[side] = o
                break
    return slots, domains.get("a"), domains.get("b")


def build_candidate_set(samples):
    """{"gener": {key: [templates]}, "mater": {key: [...]}, "list": [...], "slots": [...]} of the
    training samples (each sample a bot turn of a session)."""
    sessions = {}
    for s in samples:
        sessions.setdefault(s["where"], []).append(s)
    gener, mater, every, slot_names = {}, {}, [], {"topic_a", "topic_b"}
    for turns in sessions.values():
        slots, domain_a, domain_b = _slots(turns[0])
        topic_a, topic_b = slots["topic_a"][0], slots["topic_b"][0]
        slot_names.update(slots)
        cover = [("topic_a", topic_a), ("topic_b", topic_b)]
        for key, objects in slots.items():
            if key in ("topic_a", "topic_b"):
                continue
            for o in objects:
                if o not in (topic_a, topic_b) and any(o in t["gold"] for t in turns):
                    cover.append((key, o))
        cover.sort(key=lambda kv: len(kv[1]), reverse=True)
        for t in turns:
            key = f"{domain_a}_{domain_b}_{t['num_history']}"
            text = t["gold"]
            for slot, o in cover:
                text = text.replace(o, slot)
            if not any(f"topic_{x}_topic_{y}_" in text for x in "ab" for y in "ab"):
                gener.setdefault(key, []).append(text)
            plain = t["gold"].replace(topic_a, "topic_a").replace(topic_b, "topic_b")
            mater.setdefault(key, []).append(plain)
            every.append(plain)
    return {"gener": gener, "mater": mater, "list": every, "slots": sorted(slot_names)}


def _fill(templates, slots, slot_names, rng, wanted, taken):
    out = []
    for template in rng.sample(templates, len(templates)):
        text, legal = template, True
        for slot in sorted((s for s in slot_names if s not in ("topic_a", "topic_b")), key=len, reverse=True):
            if slot in text:
                if slot not in slots:
                    legal = False
                    break
                text = text.replace(slot, rng.choice(slots[slot]))
        if legal:
            for slot in ("topic_a", "topic_b"):
                text = text.replace(slot, slots[slot][0])
        if legal and text not in taken and text not in out:
            out.append(text)
        if len(out) >= wanted:
            break
    return out


def candidates_for(sample, cand_set, rng, num=9):
    """Up to num candidate replies (raw text, topic names filled in) for a sample."""
    slots, domain_a, domain_b = _slots(sample)
    key = f"{domain_a}_{domain_b}_{sample['num_history']}"
    chosen = []
    for pool in (cand_set["gener"].get(key, []), cand_set["mater"].get(key, []), cand_set["list"]):
        if len(chosen) >= num:
            break
        chosen += _fill(pool, slots, cand_set["slots"], rng, num - len(chosen), chosen)
    return chosen


def with_candidates(samples, cand_set, seed, num=9, include_gold=True):
    """[(sample, [candidate texts], gold index or -1)]; the gold reply at a seeded random position."""
    rng = random.Random(seed)
    out = []
    for s in samples:
        cands = [c for c in candidates_for(s, cand_set, rng, num) if c != s["gold"]]
        gold = -1
        if include_gold and s["gold"]:
            gold = rng.randrange(len(cands) + 1)
            cands.insert(gold, s["gold"])
        out.append((s, cands, gold))
    return out


# ----------------------------------------------------------------------------------------- inputs

def pair_ids(sample, candidate, vocab, max_seq_len):
    """(ids, segments) of one (context, candidate) pair, the context cut from its end when too long
    (the candidate kept); returns also whether it was cut."""
    history = " [INNER_SEP] ".join(sample["history_turns"]) if sample["history_turns"] else "[START]"
    cand = vocab.encode(reader.generalize(candidate, sample["topics"]))
    knowledge = vocab.encode(sample["src"])  # goal + knowledge triples (with placeholders)
    hist = vocab.encode(history)
    head = [vocab.ids[CLS]] + hist + [vocab.ids[SEP]]
    tail = [vocab.ids[SEP]] + knowledge + [vocab.ids[SEP]]
    cand = cand[:max_seq_len // 2]
    room = max_seq_len - len(cand)
    cut = len(head) + len(tail) > room
    if cut:
        tail = tail[:max(0, room - len(head))]
        head = head[:room - len(tail)]
    ids = head + cand + tail
    segments = [0] * len(head) + [1] * len(cand) + [0] * len(tail)
    return ids, segments, cut


def pad_pairs(pairs):
    length = np.array([len(ids) for ids, _ in pairs], dtype=np.int64)
    ids = np.zeros((len(pairs), length.max()), dtype=np.int64)
    seg = np.zeros_like(ids)
    for row, (i, s) in enumerate(pairs):
        ids[row, :len(i)], seg[row, :len(s)] = i, s
    return ids, seg, length


def vocabulary(samples, max_size):
    words = reader.Vocabulary.build(samples, max_size - 4 if max_size > 4 else max_size).tokens
    for extra in (CLS, SEP, "[INNER_SEP]", "[START]"):
        if extra not in words:
            words.append(extra)
    return reader.Vocabulary(words)


# ------------------------------------------------------------------------------------------ model

class Ranker(nn.Layer):
    def __init__(self, vocab_size, hidden_size=128, num_layers=2, num_heads=4, max_seq_len=256, dropout=0.1):
        super().__init__()
        self.word = nn.Embedding(vocab_size, hidden_size)
        self.position = nn.Embedding(max_seq_len, hidden_size)
        self.segment = nn.Embedding(2, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(hidden_size, num_heads, 4 * hidden_size, dropout, activation="relu",
                                           attn_dropout=dropout, act_dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, num_layers)
        self.pooler = nn.Linear(hidden_size, hidden_size)
        self.classifier = nn.Linear(hidden_size, 2)

    def forward(self, ids, segments, length):
        positions = paddle.arange(paddle.shape(ids)[1], dtype="int64").unsqueeze(0)
        x = self.word(ids) + self.position(positions) + self.segment(segments)
        x = self.dropout(self.norm(x))
        mask = (positions < length.unsqueeze(1)).astype(x.dtype)
        bias = ((1.0 - mask) * -1e9).unsqueeze(1).unsqueeze(1)  # [N, 1, 1, L]
        x = self.encoder(x, bias)
        return self.classifier(paddle.tanh(self.pooler(x[:, 0])))

    def score(self, ids, segments, length):
        """Probability that the candidate is the reply [N]."""
        return F.softmax(self.forward(ids, segments, length), axis=-1)[:, 1]


def num_parameters(model):
    return sum(math.prod(p.shape) for p in model.parameters())


def build_ranker(args, vocab_size):
    return Ranker(vocab_size, args.hidden_size, args.num_layers, args.num_heads, args.max_seq_len, args.dropout)


# -------------------------------------------------------------------------------- ranking, metrics

def rank(score_fn, items, vocab, max_seq_len, batch_size=256):
    """Index of the best-scored candidate of each (sample, candidates, gold) item, and the cut count."""
    pairs, owner, cut = [], [], 0
    for n, (sample, cands, _) in enumerate(items):
        for c in cands:
            ids, seg, was_cut = pair_ids(sample, c, vocab, max_seq_len)
            pairs.append((ids, seg))
            owner.append(n)
            cut += was_cut
    scores = np.concatenate([score_fn(*pad_pairs(pairs[i:i + batch_size])) for i in range(0, len(pairs), batch_size)]) \
        if pairs else np.zeros(0)
    best, owner = [], np.array(owner)
    for n in range(len(items)):
        mine = np.nonzero(owner == n)[0]
        best.append(int(np.argmax(scores[mine])) if len(mine) else -1)
    return best, cut


def model_scorer(model):
    def run(ids, seg, length):
        with paddle.no_grad():
            return model.score(paddle.to_tensor(ids), paddle.to_tensor(seg), paddle.to_tensor(length)).numpy()
    return run


def predictor_scorer(inference_dir):
    run = utils.create_predictor(os.path.join(inference_dir, "ranker"))
    return lambda ids, seg, length: run([ids, seg, length])[0]


def replies_of(items, best):
    return [cands[b] if b >= 0 else "" for (_, cands, _), b in zip(items, best)]


def hits_at_1(items, best):
    return float(np.mean([b == gold for (_, _, gold), b in zip(items, best)])) if items else 0.0
