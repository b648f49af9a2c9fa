"""On the demo data, SR-GNN beats the popularity baseline on the test split: the demo's sessions
follow item-to-item transitions that a popularity ranking cannot know."""
import pytest

import paddle

import eval as eval_script
import train
from conftest import make_data
from make_demo_data import best_possible


@pytest.mark.slow
def test_srgnn_beats_popularity(tmp_path):
    data_dir = make_data(str(tmp_path / "demo"), 4000, 7)
    # Two epochs of a narrower model: with the recipe's LR of 0.001 it would need more (the README's run).
    with paddle.utils.unique_name.guard():
        train.main(["--data_dir", data_dir, "--output_dir", str(tmp_path), "--batch_size", "50", "--num_workers", "0",
                    "--log_interval", "100", "--epochs", "2", "--hidden_size", "32", "--lr", "0.01"])
        result = eval_script.main(["--output_dir", str(tmp_path), "--num_workers", "0"])
    popularity = result["baseline"]
    print(f"test P@20 / MRR@20: SR-GNN {result['p@20']:.4f} / {result['mrr@20']:.4f}, "
          f"popularity {popularity['p@20']:.4f} / {popularity['mrr@20']:.4f}")
    assert result["p@20"] > popularity["p@20"] + 0.3
    assert result["mrr@20"] > popularity["mrr@20"] + 0.15
    best_p20, best_mrr20 = best_possible(f"{data_dir}/train-item-views.csv", seed=7)
    print(f"the session model's own probabilities: {best_p20:.4f} / {best_mrr20:.4f}")
    assert result["p@20"] < best_p20 + 0.02 and result["mrr@20"] < best_mrr20 + 0.02  # nobody beats the truth
