"""The training loop and what follows it. Most tests reuse the session's one tiny run (conftest.py:
arcmargin with s=30, 24 px, 6 steps, exported)."""
import argparse
import json
import os

import numpy as np
import paddle
import pytest

import eval as evaluation
import export
import infer
import reader
import train
import utils
from conftest import MODEL, RUN_STEPS, TINY, run_train
from models import build_model


def losses(out_dir, model=MODEL):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_the_run_records_its_model_shape_and_curves(trained):
    run = os.path.join(trained, MODEL)
    with open(os.path.join(run, "train_config.json")) as f:
        config = json.load(f)
    assert (config["num_classes"], config["image_size"], config["arc_scale"]) == (6, 24, 30.0)
    assert sorted(losses(trained)) == [4, RUN_STEPS]
    with open(os.path.join(run, "metrics.jsonl")) as f:
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert [r["step"] for r in evals] == [3, RUN_STEPS] and all("dev_recall@1" in r for r in evals)
    assert os.path.getsize(os.path.join(run, "curves.png")) > 1000


def test_eval_export_infer_follow_the_run_and_agree(trained, demo, tmp_path):
    """Nothing but --output_dir. infer.py over the test list embeds every image as eval.py does (one
    preprocessing path), from the export and from the dynamic graph, prints Recall@K over the list and
    writes the query + top-5 pictures. The embeddings are compared, not only the recall: after 6 steps
    the tiny run's embeddings nearly coincide (cosines above 0.998), so 1e-6 differences between batch
    shapes reorder near-ties and the recall of this tiny run is not a stable figure to compare."""
    result = evaluation.main(["--output_dir", trained, "--num_workers", "0"])
    assert result["samples"] == 20
    test_list = os.path.join(demo, "Ebay_test.txt")
    _, recall = infer.main(["--output_dir", trained, "--input_file", test_list, "--out_dir", str(tmp_path)])
    assert sorted(recall) == ["recall@1", "recall@10", "recall@100"] and recall["recall@100"] == 1.0
    pictures = sorted(os.listdir(tmp_path))
    assert len(pictures) == 8 and pictures[0].endswith(".png")

    args = evaluation.build_parser().parse_args(["--output_dir", trained, "--num_workers", "0"])
    args.explicit = {"output_dir", "num_workers"}
    checkpoint = evaluation.run_settings(args)
    model = evaluation.load_trained_model(args, checkpoint)
    dataset = reader.SOPDataset(demo, "test", args.image_size, train=False)
    expected, labels = evaluation.embed(model, reader.make_loader(dataset, args, train=False))
    paths, list_labels, wheres = infer.read_list(test_list)
    assert (list_labels == labels).all()
    for argv in ([], ["--checkpoint", checkpoint]):
        infer_args = utils.parse_args(infer.build_parser(), ["--output_dir", trained, *argv])
        embed, size, _ = infer.build_predictor(infer_args)
        got = infer.embed_paths(embed, paths, wheres, size, 32)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_infer_on_own_images_retrieves_five(trained, demo, capsys):
    query = os.path.join(demo, reader.read_sop_list(os.path.join(demo, "Ebay_test.txt"), demo)[0][0])
    results, recall = infer.main(["--output_dir", trained, query])
    assert recall is None and len(results) == 1 and len(results[0]["retrieved"]) == 5
    assert query not in [p for p, _ in results[0]["retrieved"]]  # a gallery image is not retrieved for itself
    assert os.path.isfile(os.path.join(trained, MODEL, "retrieval",
                                       f"0000_{os.path.splitext(os.path.basename(query))[0]}.png"))


def test_export_gives_the_dygraph_embeddings(trained, demo):
    ds = reader.SOPDataset(demo, "test", 24, train=False)
    x = np.stack([ds[i][0] for i in range(5)])
    model = build_model(MODEL, num_classes=6, loss="arcmargin", arc_scale=30)
    utils.load_model(model, os.path.join(trained, MODEL, "best.pdparams"))
    model.eval()
    expected = model(paddle.to_tensor(x)).numpy()
    got = utils.create_predictor(os.path.join(trained, MODEL, "inference", "model"))([x])[0]
    assert got.shape == (5, 512)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_baselines_are_evaluated_without_a_model(demo):
    random = evaluation.main(["--baseline", "random", "--data_dir", demo, "--image_size", "24"])
    pixels = evaluation.main(["--baseline", "pixels", "--data_dir", demo, "--image_size", "24"])
    assert random["samples"] == pixels["samples"] == 20
    vectors = np.random.default_rng(0).normal(size=(20, 128))
    labels = reader.SOPDataset(demo, "test", 24).labels
    assert {k: v for k, v in random.items() if k != "samples"} == evaluation.recall_at_k(vectors, labels)
    assert pixels["recall@1"] > random["recall@1"]  # colour and texture alone already find some products


def test_checkpoint_errors_are_plain(trained, tmp_path):
    with pytest.raises(utils.CheckpointError, match=r"does not fit the model: 2 tensors missing \(embed.bias, embed.weight\)"):
        evaluation.main(["--output_dir", trained, "--embedding_size", "8"])
    missing = str(tmp_path / "nowhere.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        export.main(["--output_dir", trained, "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    with pytest.raises(utils.CheckpointError, match="no trained run in"):
        evaluation.main(["--output_dir", str(tmp_path)])


def test_infer_refuses_an_export_older_than_its_checkpoint(trained, demo):
    best = os.path.join(trained, MODEL, "best.pdparams")
    stat = os.stat(best)
    os.utime(best, (stat.st_atime, stat.st_mtime + 60))  # trained further since the export
    try:
        with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
            infer.main(["--output_dir", trained, os.path.join(demo, "Ebay_test.txt")])
    finally:
        os.utime(best, (stat.st_atime, stat.st_mtime))


def test_pretrained_second_stage_loads_the_backbone(trained, demo, tmp_path, capsys):
    """The two-stage recipe: a pair loss starts from the arcmargin run's weights (its head is dropped)."""
    out = str(tmp_path / "stage2")
    run_train(TINY + ["--data_dir", demo, "--output_dir", out, "--loss", "triplet", "--max_steps", "1",
                      "--pretrained", os.path.join(trained, MODEL, "best.pdparams")])
    text = capsys.readouterr().out
    assert "loaded " in text and "batches of 8 (4 classes x 2)" in text
    loaded, total = text.split("loaded ")[1].split(" tensors")[0].split("/")
    assert loaded == total  # every tensor of the headless model came from stage 1


def test_resume_restores_the_run_settings(run_copy, demo, capsys):
    with pytest.raises(utils.CheckpointError, match=r"--image_size 32 differs from the run being resumed \(24\)"):
        run_train(["--output_dir", run_copy, "--resume", "--image_size", "32"])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run"):
        run_train(TINY + ["--data_dir", demo, "--output_dir", run_copy])
    capsys.readouterr()
    run_train(["--output_dir", run_copy, "--resume", "--model", MODEL, "--epochs", "4",
               "--max_steps", str(RUN_STEPS + 1), "--log_interval", "1"])
    assert "note: --epochs 4 replaces the resumed run's 3" in capsys.readouterr().out
    with open(os.path.join(run_copy, MODEL, "train_config.json")) as f:
        config = json.load(f)
    assert {k: config[k] for k in ("batch_size", "image_size", "lr", "num_classes", "loss", "epochs")} == {
        "batch_size": 8, "image_size": 24, "lr": 0.02, "num_classes": 6, "loss": "arcmargin", "epochs": 4}
    assert max(losses(run_copy)) == RUN_STEPS + 1


def test_resume_gives_the_same_losses(trained, tmp_path):
    """Resume the session run from its step-2 checkpoint (conftest.py) to step 6, logging every 4 steps:
    the line at step 4 averages steps 1-4, two of them from before the resume (the logger's window
    travels in the checkpoint)."""
    parts = str(tmp_path / "parts")
    run_train(["--output_dir", parts, "--resume", os.path.join(os.path.dirname(trained), "step2.pdckpt")])
    a, b = losses(trained), losses(parts)
    assert sorted(b) == [4, RUN_STEPS]
    assert all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (4, RUN_STEPS)), (a, b)


@pytest.mark.parametrize("script", [train, evaluation, export, infer])
def test_help_shows_every_flag_with_its_default(script):
    parser = script.build_parser()
    assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    flags = [a for a in parser._actions if a.dest != "help"]
    assert all(a.help for a in flags), [a.dest for a in flags if not a.help]
    assert parser.format_help().count("(default:") == len(flags)
