"""FastSpeech: the length regulator expands by the given durations exactly, the duration extraction on a
hand-made alignment matrix, the release's parameter count, and (slow) the whole path: durations from the
session's Transformer TTS run, a FastSpeech run on them, eval, export round trip and infer."""
import math
import os
import shutil

import numpy as np
import paddle
import pytest

import extract_durations
import reader
import text as textlib
import utils
from models import fastspeech as fs

# hidden 384, 6 + 6 FFT blocks, 2 heads, filter 1536 (width 3), duration predictor 256, post-net 5 x 256
FASTSPEECH_RELEASE = 51_337_569


def test_fastspeech_release_parameter_count():
    with paddle.LazyGuard():
        model = fs.FastSpeech(textlib.NUM_SYMBOLS, 80, **fs.RELEASE)
    assert sum(math.prod(p.shape) for p in model.parameters()) == FASTSPEECH_RELEASE
    block = 2 * 384 * 384 * 2 + 2 * 384 * 2 + 384 * 1536 * 3 + 1536 + 1536 * 384 * 3 + 384 + 4 * 384
    assert sum(math.prod(p.shape) for p in model.encoder[0].parameters()) == block


def test_length_regulator_expands_by_the_durations_exactly():
    rng = np.random.RandomState(0)
    x = rng.randn(3, 7, 5).astype(np.float32)
    durations = rng.randint(0, 5, size=(3, 7))
    durations[2, 4:] = 0  # a shorter sentence
    y, frames = fs.length_regulate(paddle.to_tensor(x), paddle.to_tensor(durations))
    assert frames.numpy().tolist() == durations.sum(1).tolist() and y.shape[1] == durations.sum(1).max()
    for b in range(3):
        expected = np.repeat(x[b], durations[b], axis=0)
        np.testing.assert_array_equal(y.numpy()[b, :len(expected)], expected)
        np.testing.assert_array_equal(y.numpy()[b, len(expected):], 0)


def test_durations_from_a_hand_made_alignment():
    # 7 frames over 4 characters (+1 padding column and 2 padding frames): frames 0-1 -> 0, 2 -> 1, 3-5 -> 2,
    # 6 -> 3; character 1 wins frame 2 by a small margin.
    a = np.zeros((9, 5))
    for t, l in enumerate([0, 0, 1, 2, 2, 2, 3]):
        a[t, l] = 0.6
        a[t, (l + 1) % 4] = 0.3
    a[2, 2] = 0.55
    a[7:, 0] = 1.0  # padding frames must not count
    a[:, 4] = 0.9   # nor the padding column
    d = extract_durations.durations_from_alignment(a, 4, 7)
    assert d.tolist() == [2, 1, 3, 1] and d.sum() == 7 and d.dtype == np.int64
    assert extract_durations.durations_from_alignment(np.eye(3), 3, 3).tolist() == [1, 1, 1]


def test_predicted_durations_round_and_never_go_negative():
    d = fs.durations_from_log(paddle.to_tensor([[np.log(3.0), np.log(1.2), -2.0, np.log(5.6)]], dtype="float32"))
    assert d.numpy().tolist() == [[2, 0, 0, 5]]


def test_durations_that_do_not_fit_the_mel_are_refused(demo_dir, tmp_path):
    """Durations extracted from other features (say, before the leading silence was trimmed) are an error
    naming the line, not a target shifted in time."""
    data = tmp_path / "data"
    (data / "features").mkdir(parents=True)
    shutil.copy(os.path.join(demo_dir, "metadata.csv"), data)
    for name in os.listdir(os.path.join(demo_dir, "features")):
        os.symlink(os.path.join(demo_dir, "features", name), data / "features" / name)
    table = {}
    for e in reader.read_metadata(str(data), verbose=False):
        table[e.uid] = np.zeros(len(e.ids), dtype=np.int64)
        table[e.uid][0] = len(reader.load_mel(str(data), e.uid))
    first = reader.read_split(str(data), "train")[0]
    table[first][0] += 3  # the untrimmed length
    np.savez(extract_durations.durations_path(str(data)), **table)
    with pytest.raises(utils.DataError, match=rf"metadata.csv:\d+: the durations of {first} in .* sum to \d+ frames"):
        reader.TextMelDataset(str(data), "train", durations=extract_durations.load_durations)
    table[first][0] -= 3
    np.savez(extract_durations.durations_path(str(data)), **table)
    dataset = reader.TextMelDataset(str(data), "train", durations=extract_durations.load_durations)
    assert dataset[0][2].sum() == len(dataset[0][1])


@pytest.mark.slow
def test_fastspeech_from_extracted_durations(trained_run, tmp_path, capsys):
    """extract_durations.py on the session's Transformer TTS run, then a short FastSpeech run: eval,
    export (round trip through Paddle Inference) and infer from the export."""
    import eval as eval_script
    import export as export_script
    import infer as infer_script
    import utils
    from conftest import run_train
    out, data = trained_run["output_dir"], trained_run["data_dir"]
    with paddle.utils.unique_name.guard():
        extract_durations.main(["--output_dir", out, "--model", "TransformerTTS", "--data_dir", data])
    with np.load(extract_durations.durations_path(data)) as f:
        first = f.files[0]
        assert f[first].sum() == len(reader.load_mel(data, first))
    fs_out = str(tmp_path / "fs")
    run_train(["--model", "FastSpeech", "--size", "demo", "--hidden", "32", "--layers", "1", "--data_dir", data,
               "--output_dir", fs_out, "--batch_size", "4", "--num_workers", "0", "--max_steps", "3",
               "--log_interval", "1", "--warmup_steps", "10", "--eval_samples", "1"])
    with paddle.utils.unique_name.guard():
        eval_script.main(["--output_dir", fs_out, "--split", "dev"])
        export_script.main(["--output_dir", fs_out])
    assert "final metrics: mel_l1_teacher_forced=" in capsys.readouterr().out
    args = eval_script.fill_from_run(utils.parse_args(_parser(), ["--output_dir", fs_out]))
    with paddle.utils.unique_name.guard():
        model, _ = eval_script.load_run(args)
    ids = np.array([[5, 6, 7, 8, 1]], dtype=np.int64)
    import acoustic
    expected = acoustic.FastSpeechInference(model)(paddle.to_tensor(ids))
    got = utils.create_predictor(os.path.join(fs_out, "FastSpeech", "inference", "model"))([ids])
    np.testing.assert_array_equal(got[1], expected[1].numpy())
    np.testing.assert_allclose(got[0], expected[0].numpy(), rtol=1e-4, atol=1e-4)
    with paddle.utils.unique_name.guard():
        infer_script.main(["--output_dir", fs_out, "--out_dir", str(tmp_path / "synth"), "--griffin_lim_iters", "2",
                           "bepe muke."])
    assert os.path.isfile(tmp_path / "synth" / "000_alignment.png")


def _parser():
    import argparse
    import eval as eval_script
    parser = argparse.ArgumentParser()
    eval_script.run_flags(parser, ["--model", "FastSpeech"])
    return parser
