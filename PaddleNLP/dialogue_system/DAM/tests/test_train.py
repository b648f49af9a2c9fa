"""The training loop, export, inference, checkpoints and resume, on a tiny demo set. Most tests
reuse the session's one training run (conftest.trained: dam_small, 4 turns x 10 words)."""
import json
import os
import shutil

import numpy as np
import pytest

import paddle

import eval as evaluation
import export
import infer
import metric
import reader
import train
import utils
from conftest import TINY, run_main
from models import MODELS, build_model


def losses(out_dir, model="dam_small"):
    with open(os.path.join(out_dir, model, "metrics.jsonl")) as f:
        return {r["step"]: r["loss"] for r in map(json.loads, f) if "loss" in r}


def test_training_run_writes_its_outputs(trained):
    run_dir = os.path.join(trained["out"], trained["model"])
    for name in ("latest.pdckpt", "best.pdparams", "vocab.txt", "train_config.json", "curves.png",
                 "inference/model.json", "inference/export_info.json", "inference/vocab.txt"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert sorted(losses(trained["out"])) == [4, 8, 12]
    assert "note: --amp O1 ignored: the CPU has no fp16 kernels" in trained["stdout"]
    assert "4 turns x 10 words, 300 training lines, 4 dev groups" in trained["stdout"]
    assert "samples truncated (" in trained["stdout"]
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:  # best.pdparams is selected on the dev groups
        evals = [r for r in map(json.loads, f) if "loss" not in r]
    assert len(evals) == 1 and "dev_R10@1" in evals[0] and not any(k.startswith("test") for k in evals[0])


def test_eval_and_infer_follow_the_run_and_agree(trained, capsys):
    """Only --output_dir given: model and turn sizes come from the run; infer.py from the export over
    the dev file gives eval.py's metrics on it, and the checkpoint in the dynamic graph the same scores."""
    out, dev = trained["out"], os.path.join(trained["data"], "dev.txt")
    result, stdout = run_main(evaluation.main, ["--output_dir", out, "--test_file", dev])
    assert f"dam_small ({out}/dam_small/best.pdparams) on 4 ubuntu groups" in stdout
    with open(os.path.join(out, "dam_small", "metrics.jsonl")) as f:
        logged = [r for r in map(json.loads, f) if "dev_R10@1" in r][-1]
    for key in ("R2@1", "R10@1", "R10@2", "R10@5"):
        assert result[key] == pytest.approx(logged[f"dev_{key}"], abs=1e-9), key
    capsys.readouterr()
    results = infer.main(["--output_dir", out, "--input_file", dev])
    assert "using the export of dam_small" in capsys.readouterr().err
    labels = reader.DialogueDataset(dev, reader.Vocab(os.path.join(trained["data"], "vocab.txt")), 4, 10,
                                    grouped=True).labels
    scores = np.array([r["score"] for r in results])
    again = metric.ubuntu_metrics(scores, labels)
    for key in ("R2@1", "R10@1", "R10@2", "R10@5"):
        assert again[key] == pytest.approx(result[key]), key
    assert sorted(r["rank"] for r in results[:10]) == list(range(1, 11))
    best = os.path.join(out, "dam_small", "best.pdparams")
    dygraph = infer.main(["--output_dir", out, "--checkpoint", best, "--input_file", dev])
    np.testing.assert_allclose([r["score"] for r in dygraph], scores, atol=1e-4)


def test_export_round_trip_matches_dygraph(trained):
    vocab = reader.Vocab(os.path.join(trained["data"], "vocab.txt"))
    model = build_model("dam_small", len(vocab), max_turn_num=4, max_turn_len=10)
    utils.load_model(model, os.path.join(trained["out"], "dam_small", "best.pdparams"))
    model.eval()
    data = reader.DialogueDataset(os.path.join(trained["data"], "test.txt"), vocab, 4, 10, grouped=True)
    arrays = reader.collate([data[i] for i in range(13)])[:4]
    expected = model(*[paddle.to_tensor(a) for a in arrays]).numpy()
    got = utils.create_predictor(os.path.join(trained["out"], "dam_small", "inference", "model"))(list(arrays))[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_infer_ranks_given_candidates_and_keeps_empty_lines(trained, tmp_path, capsys):
    results = infer.main(["--output_dir", trained["out"], "--context", "my vlc has no audio", "--context",
                          "how do i fix it ?", "--candidate", "reinstall vlc and check alsa",
                          "--candidate", "try gparted on the usb disk", "--candidate", "hi"])
    assert sorted(r["rank"] for r in results) == [1, 2, 3]
    with open(os.path.join(trained["data"], "test.txt"), encoding="utf-8") as f:
        lines = f.read().splitlines()[:3]
    path = tmp_path / "in.txt"
    path.write_text(lines[0] + "\n\n" + "\n".join(lines[1:]) + "\n", encoding="utf-8")
    capsys.readouterr()
    results = infer.main(["--output_dir", trained["out"], "--input_file", str(path)])
    printed = capsys.readouterr().out.split("\n")[:-1]
    assert len(printed) == len(results) == 4 and printed[1] == "" and results[1] is None
    assert [r["rank"] for r in results if r][0] == 1  # its own context: a group of one
    with pytest.raises(utils.DataError, match=r"in.txt:2: empty context"):
        path.write_text(lines[0] + "\n1\t \tvlc\n", encoding="utf-8")
        infer.main(["--output_dir", trained["out"], "--input_file", str(path)])


def test_infer_refuses_a_stale_export(trained, tmp_path):
    out = str(tmp_path / "out")
    shutil.copytree(trained["out"], out)
    info_path = os.path.join(out, "dam_small", "inference", "export_info.json")
    with open(info_path) as f:
        info = json.load(f)
    info["checkpoint"] = os.path.join(out, "dam_small", "best.pdparams")
    with open(info_path, "w") as f:
        json.dump(info, f)
    argv = ["--output_dir", out, "--context", "hi", "--candidate", "vlc"]
    infer.main(argv)
    later = info["checkpoint_mtime"] + 10
    os.utime(info["checkpoint"], (later, later))
    with pytest.raises(utils.CheckpointError, match="older than .*run export.py again"):
        infer.main(argv)


def test_checkpoint_errors(trained, tmp_path):
    missing = str(tmp_path / "nothing.pdparams")
    with pytest.raises(utils.CheckpointError) as error:
        run_main(evaluation.main, ["--output_dir", trained["out"], "--checkpoint", missing])
    assert str(error.value) == f"no checkpoint at {missing}; train first, or pass --checkpoint"
    other = str(tmp_path / "other.pdparams")  # longer turns: another last layer
    paddle.save(build_model("dam_small", 157, max_turn_num=4, max_turn_len=20).state_dict(), other)
    with pytest.raises(utils.CheckpointError, match="does not fit the model"):
        run_main(export.main, ["--output_dir", trained["out"], "--checkpoint", other])
    with pytest.raises(utils.CheckpointError, match="already holds a trained run; pass --resume"):
        run_main(train.main, TINY + ["--data_dir", trained["data"], "--output_dir", trained["out"]])


def test_pretrained_loads_what_fits_and_reports_the_rest(trained, tmp_path):
    """--pretrained from the session's weights into a run with 20-word turns: all but the last layer loads."""
    best = os.path.join(trained["out"], "dam_small", "best.pdparams")
    argv = TINY + ["--data_dir", trained["data"], "--output_dir", str(tmp_path), "--max_steps", "1",
                   "--max_turn_len", "20", "--pretrained", best]
    _, stdout = run_main(train.main, argv)
    total = len(build_model("dam_small", 157, max_turn_num=4, max_turn_len=20).state_dict())
    assert f"loaded {total - 1}/{total} tensors from {best}; not loaded: fc.weight" in stdout


def test_resume_restores_the_run_and_its_log_window(trained, tmp_path):
    """Stopped at step 6 (inside the log window 5-8), resumed to 12: the same losses as the session's
    unbroken run, including the first line after the resume. The resumed part takes the run's
    settings, applies --epochs with a notice and refuses another --max_turn_len."""
    parts = str(tmp_path / "parts")
    run_main(train.main, TINY + ["--data_dir", trained["data"], "--output_dir", parts, "--max_steps", "6",
                                 "--log_interval", "4", "--amp", "O1", "--save_interval", "6"])
    with pytest.raises(utils.CheckpointError, match="--max_turn_len 12 differs from the run being resumed"):
        run_main(train.main, ["--output_dir", parts, "--resume", "--max_turn_len", "12"])
    _, stdout = run_main(train.main, ["--output_dir", parts, "--resume", "--max_steps", "12", "--epochs", "3"])
    assert "note: --epochs 3 replaces the resumed run's 2" in stdout
    a, b = losses(trained["out"]), losses(parts)
    assert sorted(b) == [4, 6, 8, 12]
    assert all(b[s] == pytest.approx(a[s], rel=1e-5) for s in (4, 8, 12)), (a, b)


def test_bad_dev_group_stops_before_the_first_step(demo, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("vocab.txt", "train.txt", "test.txt"):
        os.symlink(os.path.join(demo, name), data / name)
    with open(os.path.join(demo, "dev.txt"), encoding="utf-8") as f:
        lines = f.read().splitlines()
    (data / "dev.txt").write_text("\n".join(lines[:15] + lines[16:]) + "\n", encoding="utf-8")
    out = str(tmp_path / "out")
    with pytest.raises(utils.DataError, match=r"dev.txt:20: the context differs from that of line 11"):
        run_main(train.main, TINY + ["--data_dir", str(data), "--output_dir", out, "--max_steps", "2"])
    assert not os.path.exists(os.path.join(out, "dam_small", "metrics.jsonl"))


def test_baselines_need_no_run(demo):
    argv = ["--output_dir", "/nonexistent", "--data_dir", demo, "--max_turn_num", "5", "--max_turn_len", "12"]
    overlap, _ = run_main(evaluation.main, argv + ["--baseline", "overlap"])
    assert overlap["R10@1"] == 0.0  # the demo's hard negatives repeat the last utterance
    douban, _ = run_main(evaluation.main, argv + ["--baseline", "random", "--dataset", "douban"])
    assert set(douban) >= {"MAP", "MRR", "P@1", "R10@1", "R10@2", "R10@5"} and douban["groups"] == 4


def test_help_shows_every_flag_with_its_default(capsys):
    for script in (train, evaluation, export, infer):
        parser = script.build_parser()
        assert all(action.help for action in parser._actions), script.__name__
        with pytest.raises(SystemExit):
            parser.parse_args(["--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert text.count(", ".join(sorted(MODELS))) == 1 and "(default: " in text, script.__name__


def test_douban_run_selects_on_map_and_eval_follows(tmp_path):
    from make_demo_data import make_demo_data
    data = make_demo_data(str(tmp_path / "douban"), num_train=20, num_dev=3, num_test=3, dataset="douban", seed=5)
    out = str(tmp_path / "out")
    _, stdout = run_main(train.main, TINY + ["--data_dir", data, "--output_dir", out, "--max_steps", "2",
                                             "--dataset", "douban"])
    assert "dam_small (douban)" in stdout and "best dev MAP" in stdout
    result, stdout = run_main(evaluation.main, ["--output_dir", out])
    assert "douban groups of" in stdout and set(result) >= {"MAP", "MRR", "P@1", "R10@1", "skipped_groups"}


def test_douban_layout_evaluated_as_ubuntu_is_a_clear_error(tmp_path):
    from make_demo_data import make_demo_data
    data = make_demo_data(str(tmp_path / "douban"), num_train=5, num_dev=2, num_test=20, dataset="douban", seed=5)
    with pytest.raises(utils.DataError, match=r"test.txt: group \d+: the Ubuntu evaluation needs the true response "
                                              r"first in each group \(--dataset ubuntu\)"):
        run_main(evaluation.main, ["--output_dir", "/nonexistent", "--data_dir", data, "--baseline", "random"])
