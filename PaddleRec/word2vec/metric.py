"""The analogy task (Mikolov et al., 2013): for `a b c d`, is d the vocabulary word whose normalised
embedding is closest (cosine) to normalise(b) - normalise(a) + normalise(c), the words a, b, c
excluded (3CosAdd)? A question with a word outside the vocabulary cannot be answered: it is counted
(`oov`) and counts as wrong in the accuracy over all questions, and is left out of the accuracy over
the covered ones. Under data parallel each rank scores every world_size-th question and the counts
are summed, so the figures equal the single-process ones.
"""
import numpy as np
import paddle

import utils
from models import AnalogyModel, build_model


def encode(questions, vocab):
    """[(section, lineno, (a, b, c, d))] -> (ids [N, 4] with -1 for an OOV word, sections [N])."""
    ids = np.array([[-1 if (i := vocab.id(w)) is None else i for w in words] for _, _, words in questions],
                   dtype=np.int64).reshape(-1, 4)
    return ids, [section for section, _, _ in questions]


def dygraph_answers(analogy_model, batch_size=1024):
    """A function: abc [N, 3] -> the top word of each question, computed by an AnalogyModel in the
    dynamic graph, one matrix product and one top-k per batch."""
    def answers(abc):
        out = []
        with paddle.no_grad():
            for i in range(0, len(abc), batch_size):
                part = paddle.to_tensor(abc[i:i + batch_size])
                out.append(analogy_model(part[:, 0], part[:, 1], part[:, 2])[0][:, 0].numpy())
        return np.concatenate(out) if out else np.zeros(0, np.int64)
    return answers


def summarize(sections, covered, correct):
    """The figures over all ranks: counts summed, then the accuracies (see the module docstring)."""
    names = sorted(set(sections))
    per = np.zeros((len(names), 3))
    for s, cov, ok in zip(sections, covered, correct):
        per[names.index(s)] += (1, cov, ok)
    per = utils.all_reduce_sum(per) if names else per
    total, cov, ok = per.sum(0) if len(per) else (0, 0, 0)
    total, cov, ok = int(total), int(cov), int(ok)
    return {"acc": ok / max(total, 1), "acc_covered": ok / max(cov, 1), "correct": ok, "questions": total,
            "covered": cov, "oov": total - cov,
            "sections": {n: {"questions": int(p[0]), "covered": int(p[1]), "correct": int(p[2])}
                         for n, p in zip(names, per)}}


def evaluate(answers, vocab, questions, batch_size=1024):
    """Accuracy on the questions (this rank's share, counts summed over ranks). `answers`: an
    AnalogyModel, or a function abc [N, 3] -> top word ids [N] (infer.py's exported model)."""
    if isinstance(answers, paddle.nn.Layer):
        answers = dygraph_answers(answers, batch_size)
    mine = questions[utils.rank()::utils.world_size()]
    ids, sections = encode(mine, vocab)
    covered = (ids >= 0).all(axis=1)
    correct = np.zeros(len(ids), dtype=bool)
    if covered.any():
        correct[covered] = answers(ids[covered, :3]) == ids[covered, 3]
    return summarize(sections, covered, correct)


def random_baseline(vocab, questions, dim, seed=0):
    """The same evaluation with random (Gaussian) vectors instead of trained ones."""
    paddle.seed(seed)
    model = build_model("skipgram", len(vocab), dim=dim, sparse=False)
    model.emb.weight.set_value(paddle.randn(model.emb.weight.shape))
    return evaluate(AnalogyModel(model, top_k=1, unk_id=vocab.unk_id), vocab, questions)


def format_result(r):
    return (f"acc {r['acc']:.4f} over all {r['questions']} questions, {r['acc_covered']:.4f} over the "
            f"{r['covered']} covered ({r['oov']} with a word outside the vocabulary)")
