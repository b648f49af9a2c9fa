"""The analogy metric: right on hand-built vectors (question words and <UNK> excluded, OOV questions
counted), and the batched matrix product + top-k equals a brute-force loop over the vocabulary."""
import numpy as np
import pytest

import paddle

import metric
import reader
from models import AnalogyModel, build_model


def model_with(vectors):
    model = build_model("skipgram", len(vectors), dim=vectors.shape[1], sparse=False)
    model.emb.weight.set_value(vectors.astype("float32"))
    return model


def test_hand_built_vectors():
    words = ["man", "woman", "king", "queen", "<UNK>", "apple"]
    vocab = reader.Vocab(words, [9, 8, 7, 6, 5, 4])
    vectors = np.array([[1, 0, 0], [1, 1, 0], [2, 0, 1], [2, 1, 1], [2, 1, 1.1], [0, 0, 5]], dtype=float)
    model = model_with(vectors)
    questions = [("family", 1, ("man", "woman", "king", "queen")),   # queen is closest to king - man + woman
                 ("family", 2, ("woman", "man", "queen", "king")),
                 ("family", 3, ("man", "man", "king", "king")),      # the answer is a question word: excluded
                 ("other", 4, ("man", "woman", "king", "pear"))]     # pear is not in the vocabulary
    result = metric.evaluate(AnalogyModel(model, top_k=1, unk_id=vocab.unk_id), vocab, questions)
    assert (result["questions"], result["covered"], result["oov"], result["correct"]) == (4, 3, 1, 2)
    assert result["acc"] == pytest.approx(2 / 4) and result["acc_covered"] == pytest.approx(2 / 3)
    assert result["sections"] == {"family": {"questions": 3, "covered": 3, "correct": 2},
                                  "other": {"questions": 1, "covered": 0, "correct": 0}}
    # <UNK>'s vector is even closer to king - man + woman than queen's, but <UNK> is never an answer
    ids, cosines, emb_c = AnalogyModel(model, top_k=2, unk_id=vocab.unk_id)(*(paddle.to_tensor([x]) for x in (0, 1, 2)))
    assert list(ids.numpy()[0]) == [3, 5]  # queen, then apple: the only two words left
    target = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    target = target[1] - target[0] + target[2]
    expected = vectors[3] @ target / np.linalg.norm(vectors[3]) / np.linalg.norm(target)
    assert cosines.numpy()[0, 0] == pytest.approx(expected, rel=1e-5)
    np.testing.assert_array_equal(emb_c.numpy()[0], vectors[2].astype("float32"))


def brute_force(vectors, abc, unk_id):
    """One question at a time, word by word: the highest cosine with b - a + c, a, b, c and <UNK> skipped."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    answers = []
    for a, b, c in abc:
        target = unit[b] - unit[a] + unit[c]
        best, best_cos = None, -np.inf
        for w in range(len(vectors)):
            if w in (a, b, c, unk_id):
                continue
            cos = unit[w] @ target / np.linalg.norm(target)
            if cos > best_cos:
                best, best_cos = w, cos
        answers.append(best)
    return np.array(answers)


def test_matrix_product_and_topk_equal_brute_force():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(300, 16))
    abc = rng.integers(0, 300, (700, 3))
    abc[:50, 1] = abc[:50, 0]  # some degenerate questions (a = b): the answer must still skip a, b, c
    fast = metric.dygraph_answers(AnalogyModel(model_with(vectors), top_k=1, unk_id=7), batch_size=256)(abc)
    expected = brute_force(vectors, abc, unk_id=7)
    # float32 on the device vs float64 here: a near tie could flip, none does at this size
    assert (fast == expected).mean() == 1.0


def test_random_baseline_is_near_chance():
    words = [f"w{i}" for i in range(400)] + ["<UNK>"]
    vocab = reader.Vocab(words, np.arange(401, 0, -1))
    rng = np.random.default_rng(1)
    questions = [("s", i, tuple(f"w{j}" for j in rng.integers(0, 400, 4))) for i in range(300)]
    result = metric.random_baseline(vocab, questions, dim=32)
    assert result["acc"] < 0.02 and result["covered"] == 300
