"""Learning on demo data, and the one idea: LSTM state carried across chunks, detached."""
import numpy as np
import paddle

import train


def test_learns_beyond_unigram(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    m = train.main(["--max_steps", "80", "--epochs", "2", "--hidden_size", "64", "--num_layers", "1",
                    "--log_interval", "1000", "--output_dir", str(tmp_path / "out")])
    assert m["test_ppl"] < 0.5 * m["unigram_ppl"], m
    assert (tmp_path / "out" / "model.pdparams").exists()


def _tiny():
    paddle.seed(0)
    return train.LSTMLM(vocab_size=8, hidden_size=6, num_layers=2, init_scale=0.5)


def test_state_is_carried_between_chunks():
    model = _tiny()
    first, second = paddle.to_tensor([[1, 2, 1]]), paddle.to_tensor([[3, 4, 5]])
    y = paddle.to_tensor([[4, 5, 6]])
    _, state = train.chunk_loss(model, first, paddle.to_tensor([[2, 1, 3]]), model.init_state(1))
    carried, _ = train.chunk_loss(model, second, y, train.detach(state))
    fresh, _ = train.chunk_loss(model, second, y, model.init_state(1))
    # chunk 2 from the carried state = the last 3 outputs of reading both chunks in one go
    whole = model(paddle.concat([first, second], axis=1), *model.init_state(1))[0][:, 3:]
    split = model(second, *train.detach(state))[0]
    np.testing.assert_allclose(split.numpy(), whole.numpy(), rtol=1e-5, atol=1e-6)
    assert abs(carried.item() - fresh.item()) > 1e-4  # the history changes the prediction


def _grad_into_first_chunk(detached):
    model = _tiny()
    first, second = paddle.to_tensor([[1, 2, 1]]), paddle.to_tensor([[3, 4, 5]])
    _, state = train.chunk_loss(model, first, paddle.to_tensor([[2, 1, 3]]), model.init_state(1))
    if detached:
        state = train.detach(state)
    loss, _ = train.chunk_loss(model, second, paddle.to_tensor([[4, 5, 6]]), state)
    loss.backward()  # only the second chunk's loss
    g = model.embedding.weight.grad.numpy()
    return np.abs(g[[1, 2]]).sum(), np.abs(g[[3, 4, 5]]).sum()  # rows used only by chunk 1 / chunk 2


def test_detached_state_stops_the_gradient_at_the_chunk_border():
    into_first, into_second = _grad_into_first_chunk(detached=True)
    assert into_first == 0.0 and into_second > 0
    # control: without detach, the second chunk's loss reaches back into the first chunk's words
    into_first, _ = _grad_into_first_chunk(detached=False)
    assert into_first > 1e-6


def test_stream_chunks_continue_row_by_row():
    chunks = train.StreamChunks(list(range(41)), rows=2, num_steps=4)
    x0, y0 = chunks[0]
    x1, _ = chunks[1]
    np.testing.assert_array_equal(x0, [[0, 1, 2, 3], [20, 21, 22, 23]])
    np.testing.assert_array_equal(y0, x0 + 1)
    np.testing.assert_array_equal(x1[:, 0], x0[:, -1] + 1)  # row r of chunk 1 continues row r of chunk 0
    assert len(chunks) == 5


def test_bad_input_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "ptb.train.txt"
    bad.write_bytes(b" a b\n c\td\n")
    try:
        train.read_words(str(bad))
    except SystemExit as e:
        assert f"{bad}:2:" in str(e)
    else:
        raise AssertionError("no error")
