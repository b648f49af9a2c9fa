"""The training loop, the metric, export, inference, checkpoints and resume, on a small demo corpus."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest

import utils  # noqa: F401  (configures the CPU before paddle loads)
import paddle

import infer
import reader
import train
from eval import evaluate, unigram_perplexity
from export import export
from make_demo_data import make_demo_data
from model import build_model

FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 20 rows x 30 steps over the ~6k tokens of the test corpus: 9 steps per epoch; dropout, so that
# resume must restore the RNG too.
TINY = ["--model", "small", "--batch_size", "20", "--num_steps", "30", "--dropout", "0.3",
        "--log_interval", "1", "--epochs", "2", "--eval_interval", "0"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), max_sentences=400)


def run_train(argv):
    """train.main in this process; fresh parameter names, as in a new process, so that optimizer
    state saved by one run matches the parameters of the next."""
    with paddle.utils.unique_name.guard():
        train.main(argv)


def losses(out_dir, model="small"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_loss_drops_on_a_fixed_batch():
    paddle.seed(0)
    model = build_model("small", vocab_size=60)
    optimizer = paddle.optimizer.SGD(learning_rate=1.0, parameters=model.parameters(),
                                     grad_clip=paddle.nn.ClipGradByGlobalNorm(5.0))
    scaler = paddle.amp.GradScaler(enable=False)
    rng = np.random.default_rng(0)
    x, y = paddle.to_tensor(rng.integers(0, 60, (4, 10))), paddle.to_tensor(rng.integers(0, 60, (4, 10)))
    history = [train.train_step(model, optimizer, scaler, x, y, *model.zero_state(4))[0].item() for _ in range(60)]
    assert history[0] == pytest.approx(math.log(60), rel=0.05)  # uniform predictions at the start
    assert history[-1] < 0.25 * history[0], history


class BigramTable(paddle.nn.Layer):
    """A language model whose predictions we know: the next word depends only on the current one."""

    def __init__(self, probs):
        super().__init__()
        self.log_probs = paddle.to_tensor(np.log(probs), dtype="float32")

    def zero_state(self, rows):
        return paddle.zeros([1, rows, 1]), paddle.zeros([1, rows, 1])

    def forward(self, ids, h, c):
        return paddle.gather(self.log_probs, ids.reshape([-1])).reshape([*ids.shape, -1]), h, c


def test_perplexity_on_a_hand_computed_case():
    table = BigramTable([[0.2, 0.8], [0.5, 0.5]])
    # targets: 1 after 0 (0.8), 0 after 1 (0.5), 1 after 0 (0.8), 1 after 1 (0.5)
    stream = np.array([0, 1, 0, 1, 1])
    result = evaluate(table, stream, batch_size=1, num_steps=3)  # chunks of 3 and 1 tokens
    assert result["tokens"] == 4
    assert result["ppl"] == pytest.approx((0.8 * 0.5 * 0.8 * 0.5) ** -0.25, rel=1e-6)
    # two rows [0 1 0 1] and [1 0 1 1] (the 9th token is dropped): 3 + 3 targets
    two_rows = evaluate(table, np.array([0, 1, 0, 1, 1, 0, 1, 1, 0]), batch_size=2, num_steps=2)
    assert two_rows["tokens"] == 6
    assert two_rows["ppl"] == pytest.approx((0.8 * 0.5 * 0.8 * 0.5 * 0.8 * 0.5) ** (-1 / 6), rel=1e-6)
    # the unigram baseline: training frequencies 1/4 for word 0, 3/4 for word 1, on targets 1 0 1 1
    train_stream = np.array([1, 0, 1, 1])
    assert unigram_perplexity(train_stream, stream, 1, 3, 2) == pytest.approx((0.75 ** 3 * 0.25) ** -0.25)


def test_export_round_trip_matches_dygraph(tmp_path):
    paddle.seed(0)
    model = build_model("small", vocab_size=300, dropout=0.5)
    model.eval()
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 300, (3, 7)).astype("int64")
    h, c = (0.1 * rng.normal(size=(2, 3, 200))).astype("float32"), (0.1 * rng.normal(size=(2, 3, 200))).astype("float32")
    expected = [t.numpy() for t in model(paddle.to_tensor(ids), paddle.to_tensor(h), paddle.to_tensor(c))]
    run = utils.create_predictor(export(model, str(tmp_path / "inference" / "model")))
    for got, want in zip(run([ids, h, c]), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # batch and length are free: one token of one row
    logits, h1, _ = run([ids[:1, :1], h[:, :1], c[:, :1]])
    np.testing.assert_allclose(logits[0, 0], expected[0][0, 0], rtol=1e-4, atol=1e-5)


def test_infer_from_checkpoint_and_from_export_agree(demo, tmp_path):
    out = str(tmp_path / "out")
    vocab, streams, _ = reader.load_corpus(demo, ("train", "valid"))
    paddle.seed(0)
    model = build_model("small", len(vocab))
    os.makedirs(os.path.join(out, "small"))
    paddle.save(model.state_dict(), os.path.join(out, "small", "best.pdparams"))
    vocab.save(os.path.join(out, "small", "vocab.txt"))
    with paddle.utils.unique_name.guard():
        export(model, os.path.join(out, "inference", "model"))
    vocab.save(os.path.join(out, "inference", "vocab.txt"))
    with open(os.path.join(out, "inference", "infer_cfg.json"), "w") as f:
        json.dump({"num_layers": 2, "hidden_size": 200, "vocab": "vocab.txt"}, f)
    options = dict(output_dir=out, vocab=None, checkpoint=None, inference_dir=os.path.join(out, "inference"))
    dygraph = infer.SentenceScorer(*infer.load_language_model(SimpleNamespace(model="small", **options)))
    exported = infer.SentenceScorer(*infer.load_language_model(SimpleNamespace(model=None, **options)))
    with open(reader.split_path(demo, "valid")) as f:
        sentence = vocab.encode(f.readline().split())
    assert exported.score(sentence) == pytest.approx(dygraph.score(sentence), rel=1e-4)
    # the score is the sum of the next-word log-probabilities, after an <eos> and up to the closing <eos>
    model.eval()
    ids = [vocab.eos_id] + sentence
    logits, _, _ = model(paddle.to_tensor([ids]), *model.zero_state(1))
    log_probs = paddle.nn.functional.log_softmax(logits[0], -1).numpy()
    assert dygraph.score(sentence) == pytest.approx(log_probs[np.arange(len(ids)), sentence + [vocab.eos_id]].sum(),
                                                    rel=1e-5)
    words = exported.continue_sentence(sentence[:3], 5, np.random.default_rng(0))
    assert len(words) <= 5 and all(0 <= w < len(vocab) and w != vocab.eos_id for w in words)


def test_resume_gives_the_same_losses(demo, tmp_path):
    """Stopped mid-epoch (step 5 of 9), resumed with the carried state, then across the epoch end."""
    full, parts = str(tmp_path / "full"), str(tmp_path / "parts")
    common = TINY + ["--data_dir", demo]
    run_train(common + ["--output_dir", full, "--max_steps", "12"])
    run_train(common + ["--output_dir", parts, "--max_steps", "5"])
    assert paddle.load(os.path.join(parts, "small", "latest.pdckpt"))["hidden"].any()
    run_train(common + ["--output_dir", parts, "--max_steps", "12", "--resume"])
    a, b = losses(full), losses(parts)
    assert sorted(a) == sorted(b) == list(range(1, 13))
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in a), (a, b)


def test_sigkill_then_resume_continues_from_last_checkpoint(demo, tmp_path):
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    args = TINY + ["--data_dir", demo, "--max_steps", "16", "--save_interval", "3"]
    run_train(args + ["--output_dir", full])
    proc = subprocess.Popen([sys.executable, "train.py", *args, "--output_dir", killed], cwd=FOLDER,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = os.path.join(killed, "small", "metrics.jsonl")
    deadline = time.time() + 240
    while time.time() < deadline and not (os.path.exists(log) and len(losses(killed)) >= 7):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(losses(killed)) < 16, "the run finished before it could be killed"
    saved = paddle.load(os.path.join(killed, "small", "latest.pdckpt"))["step"]
    assert saved >= 6 and saved % 3 == 0
    run_train(args + ["--output_dir", killed, "--resume"])
    a, b = losses(full), losses(killed)
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in range(saved + 1, 17)), (saved, a, b)


def test_bad_line_stops_training_with_one_line(demo, tmp_path):
    """Through the script entry point: one line naming file and line, exit 2; or skipped and counted."""
    root = tmp_path / "data"
    root.mkdir()
    for split in reader.SPLITS:
        with open(reader.split_path(demo, split), "rb") as f:
            lines = f.read().splitlines(keepends=True)
        if split == "valid":
            lines[6] = b" caf\xe9 au lait \n"  # Latin-1, not UTF-8
        with open(reader.split_path(str(root), split), "wb") as f:
            f.writelines(lines)
    args = TINY + ["--data_dir", str(root), "--output_dir", str(tmp_path / "out"), "--max_steps", "2"]
    run = subprocess.run([sys.executable, "train.py", *args], cwd=FOLDER, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == f"error: {root}/ptb.valid.txt:7: invalid UTF-8 (byte 0xe9 at column 5)"
    skipped = subprocess.run([sys.executable, "train.py", *args, "--skip_bad_samples"], cwd=FOLDER,
                             capture_output=True, text=True, timeout=300)
    assert skipped.returncode == 0, skipped.stderr
    assert "1 bad lines skipped" in skipped.stdout
