"""On the demo data the trained vectors answer the planted analogies, and random vectors do not."""
import pytest

import paddle

import eval as eval_script
import train
from make_demo_data import make_demo_data


@pytest.mark.slow
def test_trained_vectors_beat_random_vectors(tmp_path):
    data = make_demo_data(str(tmp_path / "demo"), num_sentences=12000, seed=7)
    with paddle.utils.unique_name.guard():
        train.main(["--data_dir", data, "--output_dir", str(tmp_path), "--batch_size", "1000", "--dim", "64",
                    "--epochs", "2", "--log_interval", "100"])
        result = eval_script.main(["--output_dir", str(tmp_path)])
    print(f"test analogy accuracy: trained {result['acc']:.4f}, random vectors {result['baseline']['acc']:.4f}")
    assert result["acc"] > 0.3 and result["baseline"]["acc"] < 0.01
