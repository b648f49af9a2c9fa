"""Proof that --pretrained loads PaddleNLP 2.8.1's LAC checkpoint with equal outputs, offline.

Builds PaddleNLP's own network (paddlenlp.taskflow.models.BiGruCrf, as Taskflow("lexical_analysis")
builds it) with random weights, saves its state_dict as Taskflow's model_state.pdparams with a
word.dic/tag.dic/q2b.dic beside it, loads that directory through our pretrained.py, feeds both the
same padded batch of character ids (read by Taskflow's load_vocab + its q2b/OOV look-up on one side,
by our reader.Vocab on the other) and requires in eval mode:
  emissions max abs diff <= 1e-5, CRF transitions equal, Viterbi paths identical.
The CRF transitions (normal, std 2) and the Linear's bias (std 3) are drawn wide so that the
start/stop rows matter and the paths mix B, I and O tags. Needs paddlenlp: bash tools/suite_env.sh, then
    .suite_venv/bin/python tools/check_pretrained.py            # published size (128/128, 57 tags) + a small one
    .suite_venv/bin/python tools/check_pretrained.py --small    # the small one only (the slow test)
    .suite_venv/bin/python tools/check_pretrained.py --write_keys   # rewrite tests/fixtures/paddlenlp_lac_keys.json.gz
"""
import argparse
import gzip
import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

import paddle  # noqa: E402

import utils  # noqa: E402
import pretrained  # noqa: E402
from model import build_model  # noqa: E402

FIXTURE = os.path.join(HERE, "tests", "fixtures", "paddlenlp_lac_keys.json.gz")
# Taskflow's lexical_analysis/lac: emb_dim 128, hidden_size 128 (paddlenlp/taskflow/taskflow.py), 57 tags
# (tag.dic). The vocabulary size is read from word.dic at load time; 20940 here is only the fixture's size.
CONFIGS = {"published": dict(emb_dim=128, hidden_size=128, num_labels=57, vocab_size=20940),
           "small": dict(emb_dim=16, hidden_size=24, num_labels=7, vocab_size=40)}
SENTENCES = ["LAC是个优秀的分词工具", "三亚是一个美丽的城市", "ＡＢＣ１２３，全角！", "未知字龘靐"]
TOL = 1e-5


def write_dics(folder, vocab_size, num_labels):
    """word.dic (id\\tchar with an OOV entry), tag.dic, q2b.dic in Taskflow's layout."""
    chars = list("LAC是个优秀的分词工具三亚一美丽城市ABC123,!全角未知字") 
    chars = list(dict.fromkeys(chars + [chr(0x4E00 + i) for i in range(vocab_size)]))[:vocab_size - 1]
    with open(os.path.join(folder, "word.dic"), "w", encoding="utf-8") as f:
        f.writelines(f"{i}\t{c}\n" for i, c in enumerate(chars + ["OOV"]))
    with open(os.path.join(folder, "tag.dic"), "w", encoding="utf-8") as f:
        f.writelines(f"{i}\tT{i // 2}-{'BI'[i % 2]}\n" for i in range(num_labels - 1))
        f.write(f"{num_labels - 1}\tO\n")
    with open(os.path.join(folder, "q2b.dic"), "w", encoding="utf-8") as f:
        f.writelines(f"{chr(0xFF01 + i)}\t{chr(0x21 + i)}\n" for i in range(94))  # full-width -> ASCII


def suite_ids(folder):
    """Character ids exactly as LacTask._preprocess reads them (load_vocab, q2b, then OOV)."""
    from paddlenlp.taskflow.lexical_analysis import load_vocab
    words, q2b = load_vocab(os.path.join(folder, "word.dic")), load_vocab(os.path.join(folder, "q2b.dic"))
    oov = words.get("OOV")
    return [[int(words.get(q2b.get(c, c), oov)) for c in s] for s in SENTENCES]


def check(name, cfg, folder):
    from paddlenlp.taskflow.models import BiGruCrf as SuiteLac
    paddle.seed(0)
    suite = SuiteLac(cfg["emb_dim"], cfg["hidden_size"], cfg["vocab_size"], cfg["num_labels"])
    suite.crf.transitions.set_value(paddle.randn(suite.crf.transitions.shape) * 2.0)
    bias = np.zeros(suite.fc.bias.shape, "float32")  # varied tags (B, I and O) on the real labels
    bias[:cfg["num_labels"]] = np.random.default_rng(0).standard_normal(cfg["num_labels"]) * 3.0
    suite.fc.bias.set_value(paddle.to_tensor(bias))
    suite.eval()
    write_dics(folder, cfg["vocab_size"], cfg["num_labels"])
    paddle.save(suite.state_dict(), os.path.join(folder, "model_state.pdparams"))

    vocab = pretrained.pretrained_vocab(folder)
    # tied_start_stop: PaddleNLP's CRF layout, as eval/infer --pretrained and a fine-tuned run build it
    ours = build_model("bigru_crf", vocab.vocab_size, vocab.num_tags, emb_dim=cfg["emb_dim"],
                       hidden_size=cfg["hidden_size"], tied_start_stop=True)
    pretrained.load_paddlenlp(ours, folder)
    ours.eval()

    theirs_ids = suite_ids(folder)
    our_ids = [vocab.char_ids(s).tolist() for s in SENTENCES]
    assert theirs_ids == our_ids, f"character ids differ: {theirs_ids} vs {our_ids}"
    lengths = [len(s) for s in our_ids]
    batch = np.zeros([len(our_ids), max(lengths)], dtype="int64")  # Taskflow pads with 0
    for i, s in enumerate(our_ids):
        batch[i, :len(s)] = s
    chars, lens = paddle.to_tensor(batch), paddle.to_tensor(lengths, dtype="int64")
    with paddle.no_grad():
        em_theirs = suite.fc(suite.gru(suite.word_embedding(chars), sequence_length=lens)[0]).numpy()
        em_ours = ours.emissions(chars, lens).numpy()
        path_theirs = suite(chars, lens).numpy()
        path_ours = ours(chars, lens).numpy()
    diff = float(np.abs(em_theirs - em_ours).max())
    trans_diff = float(np.abs(suite.crf.transitions.numpy() - ours.crf.transitions.numpy()).max())
    same_paths = all((path_theirs[i, :n] == path_ours[i, :n]).all() for i, n in enumerate(lengths))
    extra = int(sum((path_ours[i, :n] >= cfg["num_labels"]).sum() for i, n in enumerate(lengths)))
    ok = diff <= TOL and trans_diff == 0.0 and same_paths
    print(f"{name}: emissions max abs diff {diff:.2e}, transitions max abs diff {trans_diff:.1e}, "
          f"paths {'identical' if same_paths else 'DIFFER'} ({sum(lengths)} characters, {extra} on the "
          f"extra start/stop tags) -> {'OK' if ok else 'FAIL'}", flush=True)
    return ok


def taskflow_compare(folder, cfg):
    """Taskflow's own LacTask pre- and post-processing (q2b, OOV, padding, word grouping) around
    PaddleNLP's dygraph model, against our infer.py --pretrained on the same sentences. Taskflow itself
    cannot run here: with paddle 3.3.1 its static export writes inference.json and then looks for
    inference.pdmodel, so the Task is assembled without its predictor (its _run_model is replaced by
    the same loop over its data loader in the dynamic graph)."""
    from paddlenlp.taskflow.lexical_analysis import LacTask
    import infer
    task = LacTask.__new__(LacTask)
    task._task_path, task.kwargs, task._max_seq_len, task._custom = folder, {"batch_size": 2}, 512, None
    task.kwargs.update(emb_dim=cfg["emb_dim"], hidden_size=cfg["hidden_size"])  # Taskflow's: 128, 128
    task._construct_vocabs()
    task._construct_model("lac")
    inputs = task._preprocess([SENTENCES])  # as Task.__call__ passes them
    results, lens = [], []
    with paddle.no_grad():
        for ids, seq_len in inputs["data_loader"]:
            results.extend(task._model(ids, seq_len).numpy().tolist())
            lens.extend(seq_len.numpy().tolist())
    inputs["result"], inputs["lens"] = results, lens
    theirs = [" ".join(f"{w}/{t}" for w, t in zip(r["segs"], r["tags"])) for r in task._postprocess(inputs)]
    ours = infer.main(["--pretrained", folder] + SENTENCES)
    same = theirs == ours
    print(f"taskflow pre/post-processing: {'identical' if same else 'DIFFERENT'} words and tags on "
          f"{len(SENTENCES)} sentences", flush=True)
    if not same:
        print(f"  taskflow: {theirs}\n  ours:     {ours}", flush=True)
    return same


def write_keys():
    from paddlenlp.taskflow.models import BiGruCrf as SuiteLac
    cfg = CONFIGS["published"]
    suite = SuiteLac(cfg["emb_dim"], cfg["hidden_size"], cfg["vocab_size"], cfg["num_labels"])
    keys = {k: list(v.shape) for k, v in suite.state_dict().items()}
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with gzip.GzipFile(FIXTURE, "wb", mtime=0) as f:
        f.write(json.dumps({"suite": "paddlenlp 2.8.1 taskflow lexical_analysis (lac)", "config": cfg,
                            "keys": keys}, indent=1).encode())
    print(f"wrote {FIXTURE}: {len(keys)} keys")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--small", action="store_true", help="check the small config only")
    parser.add_argument("--write_keys", action="store_true", help="write the fixture of the published config's keys")
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    if args.write_keys:
        write_keys()
        return
    names = ["small"] if args.small else ["published", "small"]
    ok = True
    for name in names:
        with tempfile.TemporaryDirectory() as folder:
            ok = check(name, CONFIGS[name], folder) and ok
            if name == "small":
                ok = taskflow_compare(folder, CONFIGS[name]) and ok
    if not ok:
        sys.exit(1)
    print("check_pretrained: all equal")


if __name__ == "__main__":
    utils.run_main(main)
