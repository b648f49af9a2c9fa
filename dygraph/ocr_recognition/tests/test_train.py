"""Learning on the demo digit strings, and CTC greedy decoding checked on hand-made matrices."""
import numpy as np
import paddle
import paddle.nn.functional as F
import pytest

import train

BLANK = 3  # classes 0, 1, 2 and the blank


def frames(*classes):
    """A [T, 4] probability matrix whose best class in frame t is classes[t]."""
    p = np.full((len(classes), 4), 0.1)
    p[np.arange(len(classes)), classes] = 0.7
    return p


def test_greedy_decoding_merges_repeats_and_drops_blanks():
    assert train.ctc_greedy_decode(frames(1, 1, 3, 2, 2, 3), BLANK) == [1, 2]
    # a blank between two equal characters keeps them apart; without it they merge
    assert train.ctc_greedy_decode(frames(1, 1, 3, 1, 2), BLANK) == [1, 1, 2]
    assert train.ctc_greedy_decode(frames(1, 1, 1, 2), BLANK) == [1, 2]
    assert train.ctc_greedy_decode(frames(3, 3, 3), BLANK) == []
    assert train.ctc_greedy_decode(frames(0, 3, 0, 3, 0), BLANK) == [0, 0, 0]


def test_ctc_loss_sums_over_alignments_by_hand():
    # T=2 frames, label "0": alignments (0,0), (0,-), (-,0); uniform frames give 3 * (1/4)^2
    logits = paddle.zeros([2, 1, 4])
    loss = F.ctc_loss(logits, paddle.to_tensor([[0]], dtype="int32"), paddle.to_tensor([2], dtype="int64"),
                      paddle.to_tensor([1], dtype="int64"), blank=BLANK, reduction="sum")
    assert abs(loss.item() - (-np.log(3 / 16))) < 1e-5


def test_edit_distance():
    assert train.edit_distance([1, 2, 3], [1, 3]) == 1 and train.edit_distance([], [4, 4]) == 2


def test_malformed_list_line_is_one_line_error(tmp_path):
    (tmp_path / "train.list").write_text("30 16 a.png 1,2\n30 16 b.png\n")
    (tmp_path / "a.png").write_bytes(b"")
    args = train.parse_args([])
    with pytest.raises(SystemExit, match=r"train.list:2: expected 4 fields"):
        train.TextLineDataset(str(tmp_path / "train.list"), str(tmp_path), args)
    (tmp_path / "train.list").write_text("30 16 missing.png 1,2\n")
    with pytest.raises(SystemExit, match=r"train.list:1: image .*missing.png not found"):
        train.TextLineDataset(str(tmp_path / "train.list"), str(tmp_path), args)


@pytest.mark.slow  # about 400 CTC steps: some 15 s of CPU, too much for the quick tier
def test_learns_digit_strings_on_demo_data(tmp_path):
    m = train.main(["--max_steps", "400", "--log_interval", "50", "--max_eval", "100", "--output_dir", str(tmp_path)])
    assert m["cer"] < 0.5 and m["cer"] < m["baseline_cer"] - 0.3, m
    assert (tmp_path / "model.pdparams").exists()
