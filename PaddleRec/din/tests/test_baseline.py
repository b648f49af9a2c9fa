"""On the demo data, DIN beats the logistic-regression baseline trained on the same lines: the demo's
click model rewards targets that match the user's history, an interaction only the attention sees."""
import pytest

import paddle

import eval as eval_script
import train
from make_demo_data import make_demo_data


@pytest.mark.slow
def test_din_beats_logistic_regression(tmp_path):
    data_dir, best_possible, _ = make_demo_data(str(tmp_path / "demo"), train_lines=12000, test_lines=2000, seed=7)
    common = ["--data_dir", data_dir, "--output_dir", str(tmp_path), "--batch_size", "64", "--num_workers", "0",
              "--log_interval", "50"]
    auc = {}
    for model, epochs in (("lr", "3"), ("din", "1")):  # the baseline gets three passes, DIN one
        with paddle.utils.unique_name.guard():
            train.main(common + ["--model", model, "--epochs", epochs])
            auc[model] = eval_script.main(["--output_dir", str(tmp_path), "--model", model, "--num_workers", "0"])["auc"]
    print(f"test AUC: logistic regression {auc['lr']:.4f}, DIN {auc['din']:.4f}, true click model {best_possible:.4f}")
    assert auc["din"] > auc["lr"] + 0.04
    assert auc["din"] < best_possible + 0.01  # sanity: nobody beats the model that made the labels
