"""The reader: documents, pre-training pairs and masking (15%, 80/10/10, NSP half random), the tsv
layouts, truncation, and each kind of bad input with its one-line message."""
import numpy as np
import pytest

import reader
import utils
from tokenizer import Tokenizer


@pytest.fixture
def tok(demo_dir):
    return Tokenizer(f"{demo_dir}/vocab.txt")


def test_documents_and_pretraining_examples(demo_dir, tok):
    docs = reader.read_documents(f"{demo_dir}/pretrain/train.txt", tok)
    assert len(docs) == 200 and all(len(d) >= 4 for d in docs)
    data = reader.PretrainDataset(docs, tok, 48, seed=0)
    nsp = np.array([e[2] for e in data.examples])
    assert 0.3 < nsp.mean() < 0.7
    assert max(len(a) + len(b) for a, b, _ in data.examples) <= 45
    ids, types, positions, labels, _ = data[0]
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id and types[-1] == 1 and types[0] == 0
    data.epoch = 1
    assert not np.array_equal(data[0][2], positions) or not np.array_equal(data[0][0], ids)  # re-drawn each epoch
    data.epoch = 0
    np.testing.assert_array_equal(data[0][0], ids)  # ... and the same for the same epoch


def test_masking_rates(demo_dir, tok):
    docs = reader.read_documents(f"{demo_dir}/pretrain/train.txt", tok)
    data = reader.PretrainDataset(docs, tok, 48, seed=0)
    chosen = masked = kept = total = 0
    for i in range(len(data)):
        ids, _, positions, labels, _ = data[i]
        original = np.array([tok.cls_id] + data.examples[i][0] + [tok.sep_id] + data.examples[i][1] + [tok.sep_id])
        assert np.array_equal(original[positions], labels)
        assert tok.cls_id not in labels and tok.sep_id not in labels
        total += len(ids) - 3
        chosen += len(positions)
        masked += (ids[positions] == tok.mask_id).sum()
        kept += (ids[positions] == labels).sum()
    assert 0.14 < chosen / total < 0.17
    assert 0.77 < masked / chosen < 0.83
    assert 0.07 < kept / chosen < 0.14  # 10% kept, plus random draws that hit the same token


def test_collate_flat_positions(demo_dir, tok):
    docs = reader.read_documents(f"{demo_dir}/pretrain/train.txt", tok)
    data = reader.PretrainDataset(docs, tok, 48, seed=0)
    ids, types, positions, labels, nsp = reader.collate_pretrain([data[0], data[1]], tok.pad_id, pad_to=48)
    assert ids.shape == (2, 48) and nsp.shape == (2,)
    assert (positions[len(data[0][2]):] >= 48).all()
    assert np.array_equal(np.concatenate([data[0][3], data[1][3]]), labels)


def test_pairs_and_truncation(demo_dir, tok):
    data = reader.load_pairs(f"{demo_dir}/classify/dev.tsv", tok, ["entailment", "not_entailment"], 128)
    assert len(data) == 64
    ids, types, label = data[0]
    assert ids[0] == tok.cls_id and ids.count(tok.sep_id) == 2 and label in (0, 1)
    ids, types = reader.encode_pair(tok, "the road was quiet . " * 20, "nobody expected that .", 16)
    assert len(ids) == 16 and types.count(1) == 5  # 4 tokens + [SEP]: the longer side lost tokens


def write(path, text):
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def test_bad_input_names_file_and_line(tmp_path, tok):
    with pytest.raises(utils.DataError, match=r"docs.txt:1: no sentences"):
        reader.read_documents(write(tmp_path / "docs.txt", "\n\n  \n"), tok)
    bad = write(tmp_path / "bad.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta .\tb .\tentailment\n1\tonly two\n")
    with pytest.raises(utils.DataError, match=r"bad.tsv:3: expected 4 tab-separated fields, got 2"):
        reader.read_pairs(bad)
    rows, skipped = reader.read_pairs(bad, skip_bad_samples=True)
    assert len(rows) == 1 and skipped == 1
    with pytest.raises(utils.DataError, match=r"bin.tsv:2: not UTF-8 text \(byte 3 of the line\)"):
        reader.read_pairs(write(tmp_path / "bin.tsv", b"index\tsentence1\tsentence2\tlabel\n0\t\xff\tb\tx\n"))
    with pytest.raises(utils.DataError, match=r"lab.tsv:2: unknown label 'maybe'"):
        reader.load_pairs(write(tmp_path / "lab.tsv", "sentence1\tsentence2\tlabel\na\tb\tmaybe\n"), tok,
                          ["entailment"], 32)
    with pytest.raises(utils.DataError, match=r"hdr.tsv:1: the header needs"):
        reader.read_pairs(write(tmp_path / "hdr.tsv", "a\tb\n1\t2\n"))


def test_xnli_train_layout(tmp_path, tok):
    rows, _ = reader.read_pairs(write(tmp_path / "x.tsv", "premise\thypo\tlabel\nthe cat .\tthe dog .\tneutral\n"))
    assert rows == [(2, "the cat .", "the dog .", "neutral")]


def test_batch_sampler_resumes_mid_epoch():
    sampler = reader.BatchSampler(50, 8, shuffle=True, seed=3)
    sampler.set_epoch(2)
    full = list(sampler)
    sampler.set_epoch(2, start_batch=4)
    assert list(sampler) == full[4:] and len(full) == 6 and all(len(b) == 8 for b in full)
