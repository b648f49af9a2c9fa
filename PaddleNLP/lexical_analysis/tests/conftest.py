"""Test setup: the folder on sys.path, the CPU configured, the `slow` marker, and ONE small
training run per session (tiny model, a few steps, then export) that the eval, export, infer and
resume tests reuse."""
import os
import sys

os.environ.setdefault("GLOG_minloglevel", "2")
FOLDER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, FOLDER)

import pytest  # noqa: E402

import utils  # noqa: E402
import paddle  # noqa: E402

utils.configure_cpu()

# Non-default model sizes on purpose: eval, export and infer must take them from the run.
# 170 demo sentences, every 10th held out as dev: 153 train sentences, 10 batches of 16 per epoch.
# --log_interval 4 with --save_interval 3: a resume at step 6 lands inside a logging window.
SMALL = ["--emb_dim", "32", "--hidden_size", "32", "--batch_size", "16", "--log_interval", "4",
         "--num_workers", "0", "--epochs", "3"]
STEPS = 14  # crosses the epoch boundary at 10


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: subprocesses, kill -9, two ranks, README commands (the slow tier)")


def call(main, argv):
    """A script's main() as a fresh process would run it: parameter and optimizer-state names
    restart from zero (as in the separate process a real --resume runs in)."""
    with paddle.utils.unique_name.guard():
        return main(argv)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    from make_demo_data import write_demo
    out = str(tmp_path_factory.mktemp("demo"))
    write_demo(out, num_train=170, num_test=30, seed=2)
    return out


@pytest.fixture(scope="session")
def trained_run(data_dir, tmp_path_factory):
    """OUTPUT_DIR of one training (STEPS steps, eval at each epoch end) and its export."""
    import export
    import train
    out = str(tmp_path_factory.mktemp("run"))
    call(train.main, ["--data_dir", data_dir, "--output_dir", out, "--max_steps", str(STEPS),
                      "--save_interval", "3"] + SMALL)
    call(export.main, ["--output_dir", out])
    return out


def paddlenlp_file(dics, folder, emb_dim=16, hidden=24, seed=3, shuffle_words=False):
    """A Taskflow LAC directory in PaddleNLP's layout: model_state.pdparams under PaddleNLP's names (the
    key map of pretrained.py inverted, transitions (N+2)x(N+2), the aliases stored too) with random
    weights, and DICS' word.dic/tag.dic/q2b.dic beside it (shuffle_words: word.dic with its ids
    permuted, so that a run reading DICS' own word.dic would see other characters)."""
    import shutil

    import numpy as np

    import pretrained
    from model import build_model
    from reader import Vocab
    os.makedirs(folder, exist_ok=True)
    for name in pretrained.FILES:
        shutil.copy(os.path.join(dics, name), folder)
    if shuffle_words:
        lines = [line for line in open(os.path.join(dics, "word.dic"), encoding="utf-8").read().splitlines() if line]
        ids = np.random.default_rng(seed).permutation(len(lines))
        with open(os.path.join(folder, "word.dic"), "w", encoding="utf-8") as f:
            f.write("".join(f"{i}\t{line.split(chr(9))[1]}\n" for i, line in zip(ids, lines)))
    v = Vocab(str(folder))
    paddle.seed(seed)
    ours = build_model("bigru_crf", v.vocab_size, v.num_tags + 2, emb_dim=emb_dim, hidden_size=hidden,
                       tied_start_stop=True)
    back = {ours_key: theirs for theirs, ours_key in pretrained.KEY_MAP.items()}
    state = {}
    for key, value in ours.state_dict().items():
        if key in back:
            state[back[key]] = value
        elif key.startswith("encoder.gru."):
            state["gru." + key[len("encoder.gru."):]] = value
    for alias in pretrained.ALIASES:
        state[alias] = state["crf.transitions"]
    paddle.save(state, os.path.join(folder, "model_state.pdparams"))
    return str(folder)
