"""TSM: the temporal shift on a hand-made tensor, and learning the direction of motion on demo clips."""
import numpy as np
import paddle
import pytest

import train


def test_shift_on_hand_made_tensor():
    # N=1 clip, T=3 frames, C=8 channels (1/8 = one channel each way), 1x1 pixels; value = 10*t + c
    x = np.array([[10 * t + c for c in range(8)] for t in range(3)], "float32")
    out = train.temporal_shift(paddle.to_tensor(x.reshape(3, 8, 1, 1)), seg_num=3).numpy().reshape(3, 8)
    want = x.copy()
    want[:, 0] = [0, 0, 10]    # channel 0 comes from the previous frame (zero at t=0)
    want[:, 1] = [11, 21, 0]   # channel 1 comes from the next frame (zero at the last frame)
    np.testing.assert_array_equal(out, want)
    ref = paddle.nn.functional.temporal_shift(paddle.to_tensor(x.reshape(3, 8, 1, 1)), 3, 1.0 / 8)
    np.testing.assert_array_equal(out, ref.numpy().reshape(3, 8))


def test_learns_direction_of_motion(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    acc, majority = train.main(["--demo_clips", "160", "--epochs", "3", "--batch_size", "8", "--width", "4",
                                "--lr", "0.05", "--log_interval", "100", "--output_dir", str(tmp_path / "out")])
    assert majority == pytest.approx(0.5)
    assert acc >= 0.8


@pytest.mark.slow
def test_without_shift_stays_at_chance(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    acc, _ = train.main(["--no_shift", "--epochs", "3", "--output_dir", str(tmp_path / "out")])
    assert acc <= 0.65
