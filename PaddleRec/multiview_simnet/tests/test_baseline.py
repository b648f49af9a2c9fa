"""On demo data the model beats the word-overlap baseline by far: the demo's relevance lies in which
ids co-occur across views (clicked items with title words and tags), and its hard negatives share
more words with the query than the positives do."""
import pytest

import eval as eval_script
import train
from conftest import DEMO, run
from make_demo_data import make_demo_data


@pytest.mark.slow
def test_model_beats_word_overlap(tmp_path):
    data = make_demo_data(str(tmp_path / "demo"), train_lines=6000, test_lines=1500, seed=7)
    out = str(tmp_path / "out")
    run(train, DEMO + ["--data_dir", data, "--output_dir", out, "--epochs", "2", "--lr", "0.002",
                       "--num_workers", "0", "--log_interval", "50"])
    learned = run(eval_script, ["--output_dir", out])
    baseline = run(eval_script, ["--output_dir", out, "--baseline"])
    print(f"test AUC: word overlap {baseline['auc']:.4f}, model {learned['auc']:.4f}")
    assert baseline["auc"] < 0.55 and baseline["pos_neg"] < 1.2
    assert learned["auc"] > baseline["auc"] + 0.3 and learned["pos_neg"] > 5
