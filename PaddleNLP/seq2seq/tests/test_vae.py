"""The variational seq2seq (--model vae): its parameter count, the KL, annealing and word dropout,
the unigram baseline, and one short run that eval, export and infer are tested on."""
import json
import os

import numpy as np
import paddle
import pytest

import eval as evaluation
import export
import infer
import train
import vae
from conftest import run_main
from model import num_parameters


def hand_count(vocab, hidden=256, latent=32):
    cell = lambda inputs: (inputs + hidden) * 4 * hidden + 4 * hidden  # noqa: E731  one weight, one bias
    return (2 * vocab * hidden + cell(hidden) + (2 * hidden * 2 * latent + 2 * latent)
            + (latent * 2 * hidden + 2 * hidden) + cell(hidden + latent) + (hidden * vocab + vocab))


def test_parameter_count_of_the_release_configuration():
    args = train.get_args(["--model", "vae"])  # the release's sizes become the defaults
    assert (args.hidden_size, args.num_layers, args.latent_size, args.batch_size) == (256, 1, 32, 32)
    with paddle.LazyGuard():
        model = vae.build_vae(args, 10003)  # PTB's 10,000 words and <unk> <s> </s>
    assert num_parameters(model) == hand_count(10003) == 8_825_427


def test_kl_annealing_and_word_dropout():
    mean = paddle.to_tensor(np.array([[0.0, 0.0], [1.0, -2.0]], dtype="float32"))
    log_var = paddle.to_tensor(np.array([[0.0, 0.0], [np.log(4.0), 0.0]], dtype="float32"))
    kl = vae.kl_divergence(mean, log_var).numpy()
    assert kl[0] == pytest.approx(0.0, abs=1e-7)  # the prior itself
    assert kl[1] == pytest.approx(0.5 * ((4 + 1 - 1 - np.log(4)) + (1 + 4 - 1 - 0)), rel=1e-5)  # var + mean² - 1 - log var
    assert vae.kl_weight(0, 100, 0.1, 10) == pytest.approx(0.1)
    assert vae.kl_weight(500, 100, 0.1, 10) == pytest.approx(0.55)
    assert vae.kl_weight(5000, 100, 0.1, 10) == 1.0
    dec_in = np.full((200, 30), 7)
    dec_in[:, 0] = vae.BOS_ID
    dropped = vae.word_dropout(dec_in, 0.5, np.random.RandomState(0))
    assert (dropped[:, 0] == vae.BOS_ID).all()
    assert 0.47 < (dropped[:, 1:] == vae.UNK_ID).mean() < 0.53
    assert set(np.unique(dropped[:, 1:]).tolist()) == {vae.UNK_ID, 7}


def test_unigram_perplexity_by_hand(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("a b\na\n", encoding="utf-8")
    ids = {"<unk>": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4}
    data = vae.Sentences(str(path), ids, 50)
    # counts: a 2, b 1, </s> 2, <unk> 0, <s> 0 -> add-one over 5 entries: (3, 2, 3, 1, 1) / 10
    probs = {"a": 0.3, "b": 0.2, "</s>": 0.3}
    expected = np.exp(-(np.log(probs["a"]) + np.log(probs["b"]) + np.log(probs["</s>"]) + np.log(probs["a"])
                        + np.log(probs["</s>"])) / 5)
    assert vae.unigram_ppl(data, data, 5) == pytest.approx(expected, rel=1e-9)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    from make_demo_data import make_ptb_demo
    data = make_ptb_demo(str(tmp_path_factory.mktemp("ptb")), num_train=300, num_dev=16, num_test=16)
    out = str(tmp_path_factory.mktemp("vae_run"))
    _, stdout = run_main(train.main, ["--model", "vae", "--data_dir", data, "--output_dir", out, "--hidden_size", "16",
                                      "--latent_size", "8", "--max_steps", "8", "--log_interval", "4",
                                      "--eval_interval", "0"])
    run_main(export.main, ["--output_dir", out])
    return {"out": out, "data": data, "stdout": stdout}


def test_vae_run_eval_export_and_infer(vae_run, capsys):
    out = vae_run["out"]
    assert "vae: " in vae_run["stdout"] and "KL weight 0.1 -> 1 over 10 epochs, word dropout 0.5" in vae_run["stdout"]
    with open(os.path.join(out, "vae", "metrics.jsonl")) as f:
        dev = [r for r in map(json.loads, f) if "val_ppl" in r][-1]
    metrics, stdout = run_main(evaluation.main, ["--output_dir", out, "--splits", "dev,test"])
    assert metrics["dev_ppl"] == pytest.approx(dev["val_ppl"], rel=1e-6)  # the run's sizes, the same seeded z
    assert metrics["test_nll"] > metrics["test_kl"] >= 0 and "unigram baseline: PPL" in stdout
    capsys.readouterr()
    sampled = infer.main(["--output_dir", out, "--sample", "3"])
    assert "using the export of vae" in capsys.readouterr().err
    best = os.path.join(out, "vae", "best.pdparams")
    assert infer.main(["--output_dir", out, "--sample", "3", "--checkpoint", best]) == sampled and len(sampled) == 3
    greedy = infer.main(["--output_dir", out, "--sample", "3", "--greedy"])
    assert len(greedy) == 3 and greedy == infer.main(["--output_dir", out, "--sample", "3", "--greedy", "--checkpoint", best])
    line = infer.main(["--output_dir", out, "--interpolate", "--interp_steps", "4", "the cat sees a dog .",
                       "some old kings watch a river every day ."])
    assert len(line) == 4
    with pytest.raises(Exception, match="--interpolate takes exactly two sentences"):
        infer.main(["--output_dir", out, "--interpolate", "the cat ."])


def test_vae_export_round_trip(vae_run):
    out = vae_run["out"]
    args = evaluation.get_args(["--output_dir", out])
    model, _, _, _ = evaluation.load_run_model(args)
    z = np.random.RandomState(0).standard_normal((3, 8)).astype("float32")
    start_a, step_a = vae.model_fns(model)
    start_b, step_b = vae.predictor_fns(os.path.join(out, "vae", "inference"))
    lp_a, h_a, c_a = start_a(z)
    lp_b, h_b, c_b = start_b(z)
    np.testing.assert_allclose(lp_b, lp_a, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(h_b, h_a.numpy(), rtol=1e-4, atol=1e-4)
    token = np.array([5, 6, 7])
    lp_a, _, _ = step_a(token, h_a, c_a, z)
    lp_b, _, _ = step_b(token, h_b, c_b, z)
    np.testing.assert_allclose(lp_b, lp_a, rtol=1e-4, atol=1e-4)


def test_vae_resume_gives_the_unbroken_losses(vae_run, tmp_path):
    """Stopped at step 5, resumed to 8: the word dropout and z noise are drawn from the step, so the
    step-8 log line equals the unbroken run's; the run's sizes come from the checkpoint."""
    parts = str(tmp_path / "parts")
    run_main(train.main, ["--model", "vae", "--data_dir", vae_run["data"], "--output_dir", parts, "--hidden_size", "16",
                          "--latent_size", "8", "--max_steps", "5", "--log_interval", "4", "--eval_interval", "0"])
    with pytest.raises(Exception, match="--latent_size 4 differs from the run being resumed"):
        run_main(train.main, ["--output_dir", parts, "--resume", "--latent_size", "4"])
    run_main(train.main, ["--output_dir", parts, "--resume", "--max_steps", "8"])

    def losses(out):
        with open(os.path.join(out, "vae", "metrics.jsonl")) as f:
            return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}
    a, b = losses(vae_run["out"]), losses(parts)
    assert sorted(b) == [4, 5, 8] and b[4] == pytest.approx(a[4], rel=1e-5)
    assert b[8] == pytest.approx(a[8], rel=1e-5), (a, b)
