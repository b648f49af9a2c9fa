"""Chunk P/R/F1 on hand-made IOB2 cases."""
import pytest

from metric import ChunkEvaluator, get_chunks


def test_chunks_of_a_segmented_sentence():
    # 除了 / 他 / 续任 / 十二届 / 政协  (p r v m ORG)
    tags = ["p-B", "p-I", "r-B", "v-B", "v-I", "m-B", "m-I", "m-I", "ORG-B", "ORG-I"]
    assert get_chunks(tags) == [("p", 0, 2), ("r", 2, 3), ("v", 3, 5), ("m", 5, 8), ("ORG", 8, 10)]


def test_b_after_b_of_same_type_starts_a_new_chunk():
    assert get_chunks(["n-B", "n-B", "n-I"]) == [("n", 0, 1), ("n", 1, 3)]


def test_stray_i_starts_a_chunk_and_o_closes_one():
    # I after O, and I of another type, each open a chunk (conlleval convention).
    tags = ["O", "PER-I", "PER-I", "LOC-I", "O", "n-B"]
    assert get_chunks(tags) == [("PER", 1, 3), ("LOC", 3, 4), ("n", 5, 6)]
    assert get_chunks(["O", "O"]) == []
    assert get_chunks([]) == []


def test_hand_computed_precision_recall_f1():
    ev = ChunkEvaluator()
    gold = ["PER-B", "PER-I", "v-B", "LOC-B", "LOC-I", "w-B"]   # PER, v, LOC, w
    pred = ["PER-B", "PER-I", "v-B", "LOC-B", "n-B", "w-B"]     # PER ok, v ok, LOC(3,4) wrong end, n wrong, w ok
    ev.update(pred, gold)
    assert ev.counts() == [5, 4, 3]
    gold2 = ["n-B", "n-I", "n-I"]
    pred2 = ["n-B", "n-I", "n-B"]                                  # both chunks wrong
    ev.update(pred2, gold2)
    assert ev.counts() == [7, 5, 3]
    p, r, f1 = ev.accumulate()
    assert p == pytest.approx(3 / 7)
    assert r == pytest.approx(3 / 5)
    assert f1 == pytest.approx(2 * (3 / 7) * (3 / 5) / (3 / 7 + 3 / 5))


def test_type_must_match_and_ids_map_through_id2tag():
    id2tag = {0: "n-B", 1: "n-I", 2: "v-B", 3: "v-I", 4: "O"}
    ev = ChunkEvaluator(id2tag)
    ev.update_batch([[2, 3, 4, 0]], [[0, 1, 4, 0]], [3])   # padding position ignored
    assert ev.counts() == [1, 1, 0]
    assert ev.accumulate() == (0.0, 0.0, 0.0)


def test_perfect_prediction_scores_one():
    ev = ChunkEvaluator()
    tags = ["TIME-B", "TIME-I", "w-B", "PER-B", "PER-I", "PER-I"]
    ev.update(tags, tags)
    assert ev.accumulate() == (1.0, 1.0, 1.0)


def test_bad_tag_is_reported():
    with pytest.raises(ValueError, match="not an IOB2 tag"):
        get_chunks(["n-X"])
