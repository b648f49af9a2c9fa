"""Proof, offline, that PaddleNLP 2.8.1's Taskflow Senta BiLSTM weights give its outputs in our net.

For each config it builds PaddleNLP's own net (paddlenlp.taskflow.models.sentiment_analysis_model.
LSTMModel, direction="bidirect", pooling_type="max", as SentaTask._construct_model builds it) with
random weights, saves its state_dict and a vocab.txt as Taskflow's files are laid out, loads the
directory through pretrained.build (the --checkpoint path of eval.py), and compares in eval mode:
  1. ours on a padded batch vs PaddleNLP on each text alone (Taskflow's default batch_size=1): logits,
     probabilities and labels;
  2. a batch without padding, both sides: logits;
  3. (reported, not required) PaddleNLP on the padded batch: its max runs over the padding positions,
     where the LSTM outputs zeros, so its logits there may differ from its own unpadded ones.
Required: max abs difference <= 1e-5. --infer also compares infer.py --pretrained's labels with
PaddleNLP's pipeline (jieba, then the net). --tokenizer also compares pretrained.TaskflowTokenizer with
paddlenlp.data.JiebaTokenizer on a few sentences. Nothing is downloaded.

    bash tools/suite_env.sh && .suite_venv/bin/python tools/check_pretrained.py --config small --tokenizer --infer
    .suite_venv/bin/python tools/check_pretrained.py --write_keys   # tests/fixtures/ key list
"""
import argparse
import gzip
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import utils  # noqa: E402  first: it silences the warning `import paddle` prints
import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.nn.functional as F  # noqa: E402

import pretrained  # noqa: E402

# Taskflow's net: LSTMModel defaults (emb 128, LSTM 198, fc 96), 2 classes. Its vocab.txt has about
# 1.2 M words; the check uses fewer rows (the embedding's row count changes no computation).
CONFIGS = {
    "base": {"vocab_size": 3000, "emb_dim": 128, "lstm_hidden_size": 198, "fc_hidden_size": 96},
    "small": {"vocab_size": 60, "emb_dim": 16, "lstm_hidden_size": 12, "fc_hidden_size": 8},
}
FIXTURE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures",
                       "paddlenlp_2.8.1_senta_bilstm_keys.json.gz")
SENTENCES = ["这个宾馆比较陈旧了，特价的房间也很一般。总体来说一般",
             "怀着十分激动的心情放映，可是看着看着发现，在放映完毕后，出现一集米老鼠的动画片！",
             "Café très bien, 服务员态度很好!!! 下次还来", "作为老的四星酒店，房间依然很整洁，相当不错。",
             "龘靐齉 xyz 123 ……", "我爱你中国"]
TOKEN_WORDS = ["这个", "宾馆", "比较", "陈旧", "特价", "房间", "也", "很", "一般", "总体", "来说", "服务员",
               "态度", "好", "下次", "还", "来", "作为", "老", "四星", "酒店", "依然", "整洁", "相当", "不错",
               "我", "爱", "你", "中国", "放映", "动画片", "心情", "Café", "!", "，", "。"]


def paddlenlp_net(config, pad_id):
    from paddlenlp.taskflow.models.sentiment_analysis_model import LSTMModel
    return LSTMModel(config["vocab_size"], 2, emb_dim=config["emb_dim"], padding_idx=pad_id,
                     lstm_hidden_size=config["lstm_hidden_size"], direction="bidirect", pooling_type="max",
                     fc_hidden_size=config["fc_hidden_size"])


def paddlenlp_logits(net, ids, lengths):
    """LSTMModel.forward returns (label, probabilities); its logits are the same layers' output layer."""
    text_repr = net.lstm_encoder(net.embedder(ids), sequence_length=lengths)
    return net.output_layer(paddle.tanh(net.fc(text_repr)))


def save_as_taskflow(net, config, out_dir):
    """model_state.pdparams and vocab.txt as Taskflow's task directory holds them ([PAD] and [UNK] last)."""
    os.makedirs(out_dir, exist_ok=True)
    paddle.save(net.state_dict(), os.path.join(out_dir, pretrained.WEIGHTS))
    words = [f"w{i}" for i in range(config["vocab_size"] - 2)] + [pretrained.PAD, pretrained.UNK]
    with open(os.path.join(out_dir, pretrained.VOCAB), "w", encoding="utf-8") as f:
        f.write("\n".join(words) + "\n")


def check(name, seed=0, verbose=True):
    """Max abs differences {unpadded, equal_lengths, padded_batch_paddlenlp} for one config."""
    config = CONFIGS[name]
    paddle.seed(seed)
    pad_id = config["vocab_size"] - 2
    theirs = paddlenlp_net(config, pad_id)
    for p in theirs.parameters():  # random weights everywhere, biases too
        p.set_value(paddle.uniform(p.shape, min=-0.5, max=0.5))
    theirs.eval()
    with tempfile.TemporaryDirectory() as tmp:
        save_as_taskflow(theirs, config, tmp)
        ours = pretrained.build(tmp)
    rng = np.random.default_rng(seed)
    lengths = np.array([9, 4, 1, 7, 2, 9])
    ids = np.full((len(lengths), lengths.max()), pad_id, dtype=np.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(0, pad_id, n)
    result = {}
    with paddle.no_grad():
        got = ours(paddle.to_tensor(ids), paddle.to_tensor(lengths)).numpy()
        alone = np.concatenate([paddlenlp_logits(theirs, paddle.to_tensor(ids[r:r + 1, :n]),
                                                 paddle.to_tensor([n])).numpy() for r, n in enumerate(lengths)])
        labels_probs = [theirs(paddle.to_tensor(ids[r:r + 1, :n]), paddle.to_tensor([n]))
                        for r, n in enumerate(lengths)]
        probs = np.concatenate([p.numpy() for _, p in labels_probs])
        labels = np.concatenate([np.asarray(i) for i, _ in labels_probs])
        result["unpadded"] = float(np.abs(got - alone).max())
        result["probs"] = float(np.abs(F.softmax(paddle.to_tensor(got), axis=-1).numpy() - probs).max())
        result["labels_equal"] = bool((got.argmax(-1) == labels).all())
        full = rng.integers(0, pad_id, (4, 8)).astype(np.int64)
        full_len = np.full(4, 8, dtype=np.int64)
        result["equal_lengths"] = float(np.abs(
            ours(paddle.to_tensor(full), paddle.to_tensor(full_len)).numpy()
            - paddlenlp_logits(theirs, paddle.to_tensor(full), paddle.to_tensor(full_len)).numpy()).max())
        result["padded_batch_paddlenlp"] = float(np.abs(
            got - paddlenlp_logits(theirs, paddle.to_tensor(ids), paddle.to_tensor(lengths)).numpy()).max())
    if verbose:
        print(f"{name} {config}: max abs diff vs PaddleNLP, each text alone {result['unpadded']:.2e} "
              f"(probabilities {result['probs']:.2e}, labels equal {result['labels_equal']}), batch without "
              f"padding {result['equal_lengths']:.2e}; PaddleNLP's own padded batch {result['padded_batch_paddlenlp']:.2e} "
              "(reported only: its max includes the padding)", flush=True)
    return result


def check_tokenizer(verbose=True):
    """Our TaskflowTokenizer vs paddlenlp.data.JiebaTokenizer: equal ids on SENTENCES. Returns the ids."""
    from paddlenlp.data import JiebaTokenizer, Vocab
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, pretrained.VOCAB)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(TOKEN_WORDS + [pretrained.PAD, pretrained.UNK]) + "\n")
        theirs = JiebaTokenizer(Vocab.load_vocabulary(path, unk_token=pretrained.UNK, pad_token=pretrained.PAD))
        ours = pretrained.TaskflowTokenizer(pretrained.TaskflowVocab(path))
    out = []
    for text in SENTENCES:
        a, b = theirs.encode(text), ours.encode(text)
        if a != b:
            raise SystemExit(f"tokenizer differs on {text!r}: PaddleNLP {a}, ours {b}")
        out.append(b)
        if verbose:
            print(f"tokenizer equal: {text!r} -> {ours.cut(text)}", flush=True)
    return out


def check_infer(verbose=True):
    """infer.py --pretrained DIR gives the labels PaddleNLP's Taskflow pipeline gives (JiebaTokenizer,
    then LSTMModel on each text alone, as SentaTask with its default batch_size=1) on SENTENCES."""
    import contextlib
    import io
    from paddlenlp.data import JiebaTokenizer, Vocab
    import infer
    config = dict(CONFIGS["small"], vocab_size=len(TOKEN_WORDS) + 2)
    paddle.seed(2)  # a seed whose labels are mixed
    net = paddlenlp_net(config, len(TOKEN_WORDS))
    for p in net.parameters():
        p.set_value(paddle.uniform(p.shape, min=-2.0, max=2.0))
    net.eval()
    with tempfile.TemporaryDirectory() as tmp:
        paddle.save(net.state_dict(), os.path.join(tmp, pretrained.WEIGHTS))
        path = os.path.join(tmp, pretrained.VOCAB)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(TOKEN_WORDS + [pretrained.PAD, pretrained.UNK]) + "\n")
        tokenizer = JiebaTokenizer(Vocab.load_vocabulary(path, unk_token=pretrained.UNK, pad_token=pretrained.PAD))
        theirs = []
        with paddle.no_grad():
            for text in SENTENCES:
                ids = tokenizer.encode(text)
                label, _ = net(paddle.to_tensor([ids]), paddle.to_tensor([len(ids)]))
                theirs.append(("negative", "positive")[int(np.asarray(label)[0])])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            infer.main(["--pretrained", tmp, *[a for text in SENTENCES for a in ("--text", text)]])
        # eval.py --pretrained on a test.tsv of the same texts (segmented by spaces: eval.py re-joins them)
        # labelled with PaddleNLP's predictions: accuracy 1 (texts without spaces: a space is a token,
        # [UNK], for Taskflow, and eval.py drops the TSV's spaces)
        with open(os.path.join(tmp, "test.tsv"), "w", encoding="utf-8") as f:
            f.write("text_a\tlabel\n" + "".join(f"{' '.join(tokenizer.cut(t))}\t{int(lab == 'positive')}\n"
                                                  for t, lab in zip(SENTENCES, theirs) if " " not in t))
        import eval as eval_script
        acc = io.StringIO()
        with contextlib.redirect_stdout(acc):
            eval_script.main(["--pretrained", tmp, "--data_dir", tmp, "--batch_size", "4"])
    if "final metrics: acc=1.0000" not in acc.getvalue():
        raise SystemExit(f"eval.py --pretrained on PaddleNLP's own labels: {acc.getvalue()}")
    ours = [line.split("\t")[0] for line in out.getvalue().splitlines()[1:]]
    if ours != theirs:
        raise SystemExit(f"infer.py --pretrained labels {ours} differ from PaddleNLP's {theirs}")
    if verbose:
        print(f"infer.py --pretrained labels equal PaddleNLP's on {len(ours)} texts: {ours}", flush=True)
        print("eval.py --pretrained on the texts without spaces, labelled by PaddleNLP: acc 1.0000", flush=True)


def write_keys():
    """The keys and shapes of Taskflow's net (base config) -> the committed fixture."""
    config = CONFIGS["base"]
    net = paddlenlp_net(config, config["vocab_size"] - 2)
    keys = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    with gzip.GzipFile(FIXTURE, "wb", mtime=0) as f:
        f.write(json.dumps({"paddlenlp": "2.8.1", "config": config, "keys": keys}, indent=0).encode())
    print(f"wrote {len(keys)} keys to {FIXTURE}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--config", choices=sorted(CONFIGS) + ["all"], default="all", help="which config to check")
    parser.add_argument("--tokenizer", action="store_true", help="also compare the jieba tokenisation")
    parser.add_argument("--infer", action="store_true", help="also compare infer.py --pretrained's labels")
    parser.add_argument("--write_keys", action="store_true", help=f"write the key fixture {FIXTURE}")
    parser.add_argument("--tol", type=float, default=1e-5, help="max abs difference allowed")
    args = parser.parse_args(argv)
    paddle.set_device("cpu")
    if args.write_keys:
        write_keys()
        return
    failed = []
    for name in sorted(CONFIGS) if args.config == "all" else [args.config]:
        r = check(name)
        if not (r["unpadded"] <= args.tol and r["equal_lengths"] <= args.tol and r["probs"] <= args.tol
                and r["labels_equal"]):
            failed.append(name)
    if args.tokenizer:
        check_tokenizer()
    if args.infer:
        check_infer()
    if failed:
        raise SystemExit(f"FAILED: {', '.join(failed)} differ by more than {args.tol}")
    print("check_pretrained: all equal")


if __name__ == "__main__":
    main()
