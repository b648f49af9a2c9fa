"""On the demo data, SSR beats the popularity baseline (the 20 items clicked most in training) on
test Recall@20: the demo's sessions follow item transitions and themes that only a model of the
sequence sees."""
import pytest

import paddle

import eval as eval_script
import train
from conftest import make_demo


@pytest.mark.slow
def test_ssr_beats_popularity(tmp_path):
    data_dir = make_demo(str(tmp_path / "demo"), sessions=8000, seed=7)
    out = str(tmp_path / "out")
    with paddle.utils.unique_name.guard():
        train.main(["--data_dir", data_dir, "--output_dir", out, "--num_workers", "0", "--epochs", "3",
                    "--lr", "0.05", "--log_interval", "100"])
        result = eval_script.main(["--output_dir", out])
    print(f"test recall@20: ssr {result['recall@20']:.4f}, popularity {result['popularity_recall@20']:.4f}")
    assert result["recall@20"] > result["popularity_recall@20"] + 0.1
