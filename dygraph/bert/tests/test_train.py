"""Learning on demo data, and the one idea: BERT's masking rule and a loss over the chosen positions only."""
import numpy as np
import paddle

import train

VOCAB = {t: i for i, t in enumerate(list(train.SPECIAL) + [f"w{i}" for i in range(45)])}  # 50 tokens


def test_pretraining_and_finetuning_beat_their_baselines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # a narrow model, 60 steps per phase: masked tokens beat the unigram guess, the classifier the majority
    m = train.main(["--pretrain_epochs", "2", "--epochs", "2", "--max_steps", "60", "--batch_size", "32",
                    "--pretrain_lr", "5e-3", "--lr", "5e-3", "--hidden", "32", "--heads", "2", "--dropout", "0",
                    "--log_interval", "1000", "--output_dir", str(tmp_path / "out")])
    assert m["mlm_acc"] > m["unigram_acc"] + 0.05, m
    assert m["dev_acc"] > m["majority_acc"] + 0.3, m
    assert (tmp_path / "out" / "model.pdparams").exists()


def _sentence_pair(n_a=40, n_b=60):
    rng = np.random.RandomState(0)
    ids, _ = train.pack(rng.randint(5, 50, n_a), rng.randint(5, 50, n_b), VOCAB, 128)
    return np.concatenate([ids, [VOCAB["[PAD]"]] * 8])  # [CLS] a [SEP] b [SEP] [PAD]*8


def test_masking_rule_proportions_and_specials():
    rng, ids = np.random.RandomState(1), _sentence_pair()
    special = np.isin(ids, [VOCAB[t] for t in ("[PAD]", "[CLS]", "[SEP]")])
    chosen = kept = masked = swapped = 0
    for _ in range(2000):
        inp, labels = train.mask_tokens(ids, rng, VOCAB, 0.15)
        sel = labels != train.IGNORE
        assert sel.sum() == 15  # round(0.15 * 100 ordinary tokens)
        assert not (sel & special).any() and (inp[special] == ids[special]).all()  # specials never chosen nor changed
        np.testing.assert_array_equal(labels[sel], ids[sel])  # a chosen position's label is the original token
        np.testing.assert_array_equal(inp[~sel], ids[~sel])  # an unchosen one is left as it was
        chosen += sel.sum()
        masked += (inp[sel] == VOCAB["[MASK]"]).sum()
        kept += (inp[sel] == ids[sel]).sum()
        swapped += ((inp[sel] != ids[sel]) & (inp[sel] != VOCAB["[MASK]"])).sum()
        assert (inp[sel] >= len(train.SPECIAL)).sum() + (inp[sel] == VOCAB["[MASK]"]).sum() == sel.sum()  # random ones are ordinary
    # 30,000 chosen positions: 80 / 10 / 10 within 1% (a random swap hits the same token 1 time in 45)
    assert abs(masked / chosen - 0.8) < 0.01 and abs(swapped / chosen - 0.1 * 44 / 45) < 0.01
    assert abs(kept / chosen - (0.1 + 0.1 / 45)) < 0.01


def test_masking_a_sequence_with_only_specials_chooses_nothing():
    ids = np.array([VOCAB["[CLS]"], VOCAB["[SEP]"], VOCAB["[SEP]"], VOCAB["[PAD]"]])
    inp, labels = train.mask_tokens(ids, np.random.RandomState(0), VOCAB)
    np.testing.assert_array_equal(inp, ids)
    assert (labels == train.IGNORE).all()


def test_mlm_loss_counts_only_chosen_positions():
    rng = np.random.RandomState(0)
    logits = rng.randn(2, 4, 6).astype("float32")
    labels = np.full((2, 4), train.IGNORE, "int64")
    labels[0, 1], labels[1, 3], labels[1, 0] = 2, 5, 0
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = -(logp[0, 1, 2] + logp[1, 3, 5] + logp[1, 0, 0]) / 3  # mean over the 3 chosen, not the 8 positions
    got = train.mlm_loss(paddle.to_tensor(logits), paddle.to_tensor(labels)).item()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    logits[labels == train.IGNORE] += 100 * rng.randn(5, 6).astype("float32")  # unchosen logits do not matter
    np.testing.assert_allclose(train.mlm_loss(paddle.to_tensor(logits), paddle.to_tensor(labels)).item(), want, rtol=1e-5)


def test_bad_line_names_file_and_line(tmp_path):
    bad = tmp_path / "train.tsv"
    bad.write_text("\t".join(train.MRPC_HEADER) + "\n1\t1\t2\tthe cat\tit\nyes\tthe cat\n", encoding="utf-8")
    try:
        train.read_mrpc(str(bad), {"[UNK]": 1})
    except SystemExit as e:
        assert f"{bad}:3:" in str(e)
    else:
        raise AssertionError("no error")
