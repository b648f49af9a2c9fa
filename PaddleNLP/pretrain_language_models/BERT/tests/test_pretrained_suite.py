"""The checks against PaddleNLP itself (slow: tools/suite_env.sh installs paddlenlp 2.8.1 and the few
packages its import needs, --no-deps, from the package index into .suite_venv): equal outputs on the
small config, the same tokens and ids as PaddleNLP's BertTokenizer, and train.py fine-tuning from a
folder PaddleNLP's save_pretrained wrote (a mismatched --model refused, exit 4).
Skipped when the package index cannot be reached."""
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, TINY

pytestmark = pytest.mark.slow
# pip's messages when the package index cannot be reached (not when a pinned version is missing from it)
UNREACHABLE = ("NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
               "ConnectTimeoutError", "(from versions: none)")
PYTHON = os.path.join(ROOT, ".suite_venv", "bin", "python")
ENV = {**{k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}, "GLOG_minloglevel": "2"}


@pytest.fixture(scope="module")
def suite_env():
    env = subprocess.run(["bash", "tools/suite_env.sh"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if env.returncode != 0 and any(s in env.stderr for s in UNREACHABLE):  # offline: no suite to compare with
        pytest.skip("the package index is unreachable: " + env.stderr.strip().splitlines()[-1])
    assert env.returncode == 0, env.stdout[-2000:] + env.stderr[-2000:]
    return PYTHON


def run(python, *argv):
    return subprocess.run([python, *argv], cwd=ROOT, capture_output=True, text=True, timeout=600, env=ENV)


def test_paddlenlp_weights_give_paddlenlp_outputs(suite_env):
    result = run(suite_env, "tools/check_pretrained.py", "--config", "small")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "1/1 configs equal within 1e-05" in result.stdout


def test_tokenizer_equals_paddlenlp(suite_env):
    result = run(suite_env, "tools/check_pretrained.py", "--tokenizer")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "12/12 sentences tokenised as PaddleNLP does" in result.stdout


SAVE = """
import sys
from paddlenlp.transformers import BertConfig, BertForPretraining
config = BertConfig(vocab_size=int(sys.argv[2]), hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=512, max_position_embeddings=64, type_vocab_size=2)
BertForPretraining(config).save_pretrained(sys.argv[1])
"""


def test_fine_tuning_from_a_paddlenlp_folder(suite_env, demo_dir, tmp_path):
    vocab = sum(1 for _ in open(os.path.join(demo_dir, "vocab.txt")))
    saved = run(suite_env, "-c", SAVE, str(tmp_path / "pnlp"), str(vocab))
    assert saved.returncode == 0, saved.stderr[-2000:]
    weights = str(tmp_path / "pnlp" / "model_state.pdparams")
    out = str(tmp_path / "out")
    result = run(sys.executable, "train.py", "--data_dir", demo_dir, "--output_dir", out, *TINY, "--max_steps", "2",
                 "--epochs", "1", "--pretrained", weights)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "(PaddleNLP, converted); skipped 7 (cls.decoder_bias" in result.stdout
    with open(os.path.join(out, "bert-tiny", "config.json")) as f:
        assert json.load(f)["encoder_norm_eps"] == 1e-12  # PaddleNLP's epsilon travels with the run
    wrong = run(sys.executable, "train.py", "--data_dir", demo_dir, "--output_dir", out, *TINY, "--model", "bert-mini",
                "--max_steps", "1", "--overwrite", "--pretrained", weights)
    assert wrong.returncode == 4, wrong.stderr[-2000:]
    assert "its config.json (2 layers, 128 wide" in wrong.stderr and "is not --model bert-mini" in wrong.stderr
