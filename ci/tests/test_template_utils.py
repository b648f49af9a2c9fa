"""The canonical ci/template/utils.py, tested once here rather than in each of its copies: the parts
that do not depend on a folder (portability, run settings, the logger's window, strict loading)."""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

paddle = pytest.importorskip("paddle")
TEMPLATE = Path(__file__).resolve().parents[1] / "template" / "utils.py"


@pytest.fixture(scope="module")
def utils():
    spec = importlib.util.spec_from_file_location("template_utils", TEMPLATE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parser(utils):
    p = argparse.ArgumentParser(description="test")
    utils.add_common_flags(p, model="a", models={"a": 1, "b": 2}, epochs=2, batch_size=4, lr=0.1)
    return p


def test_runs_without_linux_only_apis(utils, monkeypatch):
    """macOS and Windows have no sched_getaffinity, no /proc and no prctl."""
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: (_ for _ in ()).throw(OSError(path))
                        if str(path).startswith("/proc") else real_open(path, *a, **k))
    assert utils.cpu_count() == (os.cpu_count() or 1)
    utils.configure_cpu()
    utils.die_with_parent(0)


def test_clean_error_exit_has_no_traceback_and_its_own_code(tmp_path):
    script = tmp_path / "main.py"
    script.write_text(f"import importlib.util, sys\n"
                      f"spec = importlib.util.spec_from_file_location('u', {str(TEMPLATE)!r})\n"
                      f"u = importlib.util.module_from_spec(spec); spec.loader.exec_module(u)\n"
                      f"def main(): raise u.CheckpointError('no checkpoint at x.pdckpt')\n"
                      f"u.run_main(main)\n")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 4
    assert result.stderr.strip().splitlines()[-1] == "error: no checkpoint at x.pdckpt"
    assert "Traceback" not in result.stderr


def test_help_shows_defaults_and_lists_models_once(utils):
    text = parser(utils).format_help()
    assert "(default: 2)" in text and "(default: output)" in text
    assert text.count("a, b") == 1


def test_resume_restores_settings_refuses_shape_changes_and_applies_others(utils, tmp_path):
    out = str(tmp_path)
    args = utils.parse_args(parser(utils), ["--output_dir", out, "--batch_size", "8"])
    assert args.explicit == {"output_dir", "batch_size"}
    utils.prepare_run(args)
    model = paddle.nn.Linear(3, 2)
    optimizer = paddle.optimizer.SGD(parameters=model.parameters())
    utils.save_checkpoint(os.path.join(out, "a", "latest.pdckpt"), model, optimizer, args=args, step=3)

    with pytest.raises(utils.CheckpointError, match="already holds"):
        utils.prepare_run(utils.parse_args(parser(utils), ["--output_dir", out]))
    with pytest.raises(utils.CheckpointError, match="--batch_size 16 differs"):
        utils.prepare_run(utils.parse_args(parser(utils), ["--output_dir", out, "--resume", "--batch_size", "16"]))
    resumed = utils.parse_args(parser(utils), ["--output_dir", out, "--resume", "--epochs", "5"])
    state = utils.prepare_run(resumed)
    assert (resumed.batch_size, resumed.epochs, state["step"]) == (8, 5, 3)
    with open(os.path.join(out, "a", "train_config.json")) as f:
        assert json.load(f)["batch_size"] == 8


def test_eval_settings_follow_the_last_run(utils, tmp_path):
    os.makedirs(tmp_path / "b")
    (tmp_path / "last_run.json").write_text(json.dumps({"model": "b"}))
    (tmp_path / "b" / "train_config.json").write_text(json.dumps({"model": "b", "image_size": 64, "batch_size": 8}))
    args = argparse.Namespace(model=None, output_dir=str(tmp_path), image_size=224, batch_size=32, explicit={"output_dir"})
    utils.load_run_config(args)
    assert (args.model, args.image_size, args.batch_size) == ("b", 64, 32)


def test_a_log_line_off_the_interval_keeps_the_window_for_a_resume(utils, tmp_path):
    def losses(stop_at, resume):
        logger, logged, state = utils.TrainLogger(str(tmp_path), stop_at, 3), {}, None
        if resume is not None:
            logger.load_state_dict(resume)
        for step in range(1 if resume is None else 5, stop_at + 1):
            logger.update(paddle.to_tensor(float(step)), 1, 0.0, 0.01)
            if logger.should_log(step):
                logged[step] = logger.log(1, 1, step, 0.1)
        return logged, logger.state_dict()

    unbroken, _ = losses(9, None)
    first, window = losses(4, None)  # stops at step 4: logs a partial line, keeps the window
    resumed, _ = losses(9, window)
    assert first[4] == pytest.approx(4.0)
    assert resumed[6] == unbroken[6] == pytest.approx(5.0)


def test_a_checkpoint_that_does_not_fit_is_an_error(utils, tmp_path):
    path = str(tmp_path / "w.pdparams")
    paddle.save(paddle.nn.Linear(3, 2).state_dict(), path)
    with pytest.raises(utils.CheckpointError, match="does not fit"):
        utils.load_model(paddle.nn.Linear(3, 5), path)
    with pytest.raises(utils.CheckpointError, match="no checkpoint at"):
        utils.load_model(paddle.nn.Linear(3, 2), str(tmp_path / "missing.pdparams"))


def test_non_utf8_byte_names_file_and_line(utils, tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes(b"a 1\nb\xff 2\n")
    with pytest.raises(utils.DataError, match=r"list.txt:2: not UTF-8"):
        utils.read_lines(str(path))


def test_export_older_than_its_checkpoint_is_refused(utils, tmp_path):
    checkpoint = tmp_path / "best.pdparams"
    checkpoint.write_bytes(b"x")
    args = argparse.Namespace(model="a", explicit=set())
    utils.save_export_info(str(tmp_path), str(checkpoint), args)
    utils.check_export(str(tmp_path))
    os.utime(checkpoint, (os.path.getmtime(checkpoint) + 10,) * 2)
    with pytest.raises(utils.CheckpointError, match="older than"):
        utils.check_export(str(tmp_path))
