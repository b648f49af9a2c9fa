"""On the demo data, DIN beats the logistic-regression baseline trained on the same lines: the demo's
click model rewards targets that match the user's history, an interaction only the attention sees."""
import json
import os

import pytest

import utils  # noqa: F401  (before paddle)
import train
from make_demo_data import make_demo_data


def final_test_auc(out_dir, model):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return [r["test_auc"] for r in map(json.loads, f) if "test_auc" in r][-1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_data(str(tmp_path_factory.mktemp("demo")), train_lines=12000, test_lines=2000, seed=7)


def test_din_beats_logistic_regression(demo, tmp_path):
    data_dir, best_possible, _ = demo
    common = ["--data_dir", data_dir, "--output_dir", str(tmp_path), "--batch_size", "64", "--num_workers", "0",
              "--log_interval", "50"]
    train.main(common + ["--model", "lr", "--epochs", "3"])  # the baseline gets three passes, DIN one
    train.main(common + ["--model", "din", "--epochs", "1"])
    lr_auc, din_auc = final_test_auc(str(tmp_path), "lr"), final_test_auc(str(tmp_path), "din")
    print(f"test AUC: logistic regression {lr_auc:.4f}, DIN {din_auc:.4f}, true click model {best_possible:.4f}")
    assert din_auc > lr_auc + 0.04
    assert din_auc < best_possible + 0.01  # sanity: nobody beats the model that made the labels
