"""Quick tests: LeNet learns the demo digits; idx files, paddle.io and save/load behave as taught."""
import os

import numpy as np
import paddle
import pytest

import train

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_learns_demo_digits(tmp_path, monkeypatch):
    monkeypatch.chdir(HERE)  # demo data goes to data/demo, shared with the smoke run
    acc, baseline = train.main(["--max_steps", "60", "--output_dir", str(tmp_path), "--log_interval", "30"])
    assert baseline < 0.15
    assert acc > 0.6, acc
    assert os.path.exists(tmp_path / "model.pdparams")
    assert os.path.exists(tmp_path / "inference" / "model.json")


def test_idx_round_trip_and_dataloader(tmp_path):
    images = np.arange(5 * 28 * 28, dtype=np.int64).reshape(5, 28, 28) % 256
    labels = np.array([3, 1, 4, 1, 5])
    for split in ("train", "test"):
        train.write_idx(str(tmp_path / train.FILES[split][0]), images)
        train.write_idx(str(tmp_path / train.FILES[split][1]), labels)
    raw = (tmp_path / train.FILES["train"][1]).read_bytes()
    assert raw[:8] == bytes([0, 0, 8, 1, 0, 0, 0, 5]) and raw[8:] == bytes([3, 1, 4, 1, 5])
    ds = train.MNIST(str(tmp_path), "train")
    x, y = ds[2]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and y == 4
    assert x.min() >= -1 and x.max() <= 1
    batches = list(paddle.io.DataLoader(ds, batch_size=2, shuffle=False))
    assert [b[0].shape for b in batches] == [[2, 1, 28, 28], [2, 1, 28, 28], [1, 1, 28, 28]]
    assert batches[0][1].numpy().tolist() == [3, 1]


def test_bad_idx_names_file_and_byte(tmp_path):
    bad = tmp_path / train.FILES["train"][0]
    bad.write_bytes(b"\x00\x00\x08\x01" + bytes(12))
    with pytest.raises(train.DataError, match=r"train-images-idx3-ubyte: byte 0: magic"):
        train.read_idx(str(bad), 3)
    with pytest.raises(train.DataError, match="not found"):
        train.read_idx(str(tmp_path / "missing"), 1)
    with pytest.raises(SystemExit, match="error: .*t10k|error: .*train"):
        train.main(["--data_dir", str(tmp_path), "--output_dir", str(tmp_path / "out")])


def test_save_and_load_restore_model_and_optimizer(tmp_path):
    paddle.seed(1)
    model = train.LeNet()
    opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())
    x = paddle.randn([4, 1, 28, 28])
    loss = model(x).mean()
    loss.backward()
    opt.step()
    paddle.save(model.state_dict(), str(tmp_path / "m.pdparams"))
    paddle.save(opt.state_dict(), str(tmp_path / "m.pdopt"))

    paddle.seed(2)  # different initial weights: only the load can make them equal
    fresh = train.LeNet()
    assert not np.allclose(fresh(x).numpy(), model(x).numpy())
    fresh.set_state_dict(paddle.load(str(tmp_path / "m.pdparams")))
    np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())
    fresh_opt = paddle.optimizer.Adam(learning_rate=1e-3, parameters=fresh.parameters())
    fresh_opt.set_state_dict(paddle.load(str(tmp_path / "m.pdopt")))
    moments = {k: v.numpy() for k, v in opt.state_dict().items() if "moment1" in k}
    restored = {k: v.numpy() for k, v in fresh_opt.state_dict().items() if "moment1" in k}
    assert moments and moments.keys() == restored.keys()
    for k in moments:
        np.testing.assert_array_equal(moments[k], restored[k])
