"""CycleGAN: the release's parameter counts by hand, one step at a tiny width, the image pool, the
unpaired reader's errors, the generator's export, and a tiny run through train, eval, export and infer."""
import math
import os
import shutil

import numpy as np
import paddle
import pytest
from PIL import Image

import eval as evaluation
import export
import infer
import paired
import train
import translate
import utils
from conftest import run_train, whole_and_resumed_losses
from models import build_model

TINY_CYC = ["--model", "CycleGAN", "--gf_dim", "4", "--df_dim", "4", "--n_blocks", "2", "--batch_size", "4",
            "--epochs", "2", "--sample_interval", "2", "--num_workers", "0"]


def domains_of(demo):
    return os.path.join(demo, "shapes2colours")


def test_hand_count_of_the_release_resnet_9block_and_patchgan():
    """One generator: 7x7 3->64, 3x3 64->128, 128->256, 9 blocks of two 3x3 256->256, 3x3 transposed
    256->128, 128->64, 7x7 64->3 with bias; batch norm (2 per channel) after all but the last.
    One discriminator: Pix2Pix's on 3 channels instead of 6."""
    convs = [3 * 64 * 49, 64 * 128 * 9, 128 * 256 * 9] + [256 * 256 * 9] * 18 + [256 * 128 * 9, 128 * 64 * 9, 64 * 3 * 49 + 3]
    norms = 2 * (64 + 128 + 256 + 18 * 256 + 128 + 64)
    g = sum(convs) + norms
    d = 2_768_705 - 3 * 64 * 16
    with paddle.LazyGuard():
        G, D = build_model("CycleGAN")
    count = lambda layer: sum(math.prod(p.shape) for p in layer.parameters() if not p.stop_gradient)
    assert (g, d) == (11_383_427, 2_765_633) == (count(G.AB), count(D.A)) and count(G) == 2 * g


def test_one_step_at_a_tiny_width_changes_all_four_networks():
    paddle.seed(1)
    G, D = build_model("CycleGAN", gf_dim=4, df_dim=4, n_blocks=2)
    a, b = paddle.rand([2, 3, 32, 32]) * 2 - 1, paddle.rand([2, 3, 32, 32]) * 2 - 1
    opts = train.OptimizerPair(paddle.optimizer.Adam(1e-3, parameters=G.parameters()),
                               paddle.optimizer.Adam(1e-3, parameters=D.parameters()))
    nets = (G.AB, G.BA, D.A, D.B)
    before = [n.parameters()[0].numpy().copy() for n in nets]
    pools = (translate.ImagePool(50), translate.ImagePool(50))
    d_loss, g_loss = translate.cycle_step(G, D, opts, a, b, pools)
    assert np.isfinite(d_loss.item()) and np.isfinite(g_loss.item()) and len(pools[0].images) == 2
    assert all(np.abs(n.parameters()[0].numpy() - q).max() > 0 for n, q in zip(nets, before))
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in G.parameters() + D.parameters())


def test_the_image_pool_fills_then_swaps_and_round_trips():
    pool = translate.ImagePool(3, seed=0)
    first = pool.query(paddle.arange(3, dtype="float32").reshape([3, 1]))
    assert first.numpy().ravel().tolist() == [0, 1, 2] and len(pool.images) == 3
    copy = translate.ImagePool(3, seed=5)
    copy.set_state_dict(pool.state_dict())
    later = paddle.arange(10, 30, dtype="float32").reshape([20, 1])
    out_a, out_b = pool.query(later).numpy().ravel(), copy.query(later).numpy().ravel()
    assert np.array_equal(out_a, out_b) and set(out_a) & {0, 1, 2}  # old images came back
    assert set(out_a) != set(range(10, 30))


def test_pools_resume_from_per_rank_and_from_older_single_pair_checkpoints(tmp_path):
    """Older checkpoints held one [A, B] pair of pool states (rank 0's); newer ones one pair per rank."""
    def pools(seed):
        pair = (translate.ImagePool(3, (seed, 1)), translate.ImagePool(3, (seed, 2)))
        for k, pool in enumerate(pair):
            pool.query(paddle.full([4, 1], float(10 * seed + k)))
        return pair

    def restored(saved, rank):
        paddle.save({"pools": saved}, str(tmp_path / "ckpt"))
        pair = (translate.ImagePool(3), translate.ImagePool(3))
        translate.restore_pools(pair, paddle.load(str(tmp_path / "ckpt"))["pools"], rank)
        return pair

    def same(a, b):
        probe = paddle.arange(20, 28, dtype="float32").reshape([8, 1])
        return all(np.array_equal(p.query(probe).numpy(), q.query(probe).numpy()) for p, q in zip(a, b))

    rank0, rank1 = [p.state_dict() for p in pools(1)], [p.state_dict() for p in pools(2)]
    assert same(restored(rank0, rank=1), pools(1))  # the old layout: every rank takes the one pair
    assert same(restored([rank0, rank1], rank=3), pools(2)) and not same(restored([rank0, rank1], rank=0), pools(2))


def test_the_demo_domains_and_their_baselines(demo):
    train_set, dev_set, test_set = (paired.UnpairedDataset(domains_of(demo), s) for s in ("train", "dev", "test"))
    assert (len(train_set), len(dev_set), len(test_set)) == (11, 1, 4) and test_set.paired
    assert train_set.inputs.shape == (11, 3, 32, 32)
    base = translate.baselines(test_set, train_set)
    assert base["mean_l1"] < base["input_l1"]


def test_scheme_b_is_one_colour_map_that_keeps_each_colour_nearest_its_own(demo):
    """testB is testA under scheme_b, pixel for pixel; and among the demo's colours (ground, outline,
    the three shapes) each B colour lies nearest its own A colour, so the pairing is identifiable."""
    from make_demo_data import SHAPE_COLOURS, SHAPE_GROUND, SHAPE_OUTLINE, scheme_b
    test_set = paired.UnpairedDataset(domains_of(demo), "test")
    to_uint8 = lambda x: np.round((x + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 1)
    assert np.array_equal(scheme_b(to_uint8(test_set.inputs)), to_uint8(test_set.targets))
    a = np.array([SHAPE_GROUND, SHAPE_OUTLINE, *SHAPE_COLOURS.values()], np.float32)
    b = scheme_b(a.astype(np.uint8)).astype(np.float32)
    distance = np.linalg.norm(a[:, None] - b[None], axis=-1)
    assert distance.argmin(1).tolist() == list(range(len(a)))
    assert b[0].mean() < a[0].mean() - 50  # the darker ground


def test_missing_domain_corrupt_and_wrong_size(demo, tmp_path):
    root = str(tmp_path / "d")
    shutil.copytree(domains_of(demo), root)
    Image.new("RGB", (40, 40)).save(os.path.join(root, "trainB", "00002.png"))
    with pytest.raises(utils.DataError) as e:
        paired.UnpairedDataset(root, "train")
    assert str(e.value) == f"{root}/trainB/00002.png: image is 40x40, the set's first is 32x32"
    assert paired.UnpairedDataset(root, "train", skip_bad_samples=True).skipped == 1
    with open(os.path.join(root, "testA", "00001.png"), "wb") as f:
        f.write(b"not a png")
    with pytest.raises(utils.DataError, match=rf"^{root}/testA/00001.png: cannot read the image"):
        paired.UnpairedDataset(root, "test")
    shutil.rmtree(os.path.join(root, "testB"))
    with pytest.raises(utils.DataError, match=rf"^{root}/testB: domain folder not found"):
        paired.UnpairedDataset(root, "test", skip_bad_samples=True)


def test_a_tiny_run_then_eval_export_and_infer_agree(demo, tmp_path):
    out = str(tmp_path / "run")
    run_train(TINY_CYC + ["--data_dir", domains_of(demo), "--output_dir", out, "--max_steps", "3", "--log_interval", "1"])
    run = os.path.join(out, "CycleGAN")
    assert sorted(os.listdir(os.path.join(run, "samples"))) == ["last.png", "step_000002.png"]
    result = evaluation.main(["--output_dir", out])
    assert result["samples"] == 4 and 0 < result["cycle_l1"] < 1
    export.main(["--output_dir", out])
    _, exported = infer.main(["--output_dir", out, "--score"])
    _, dygraph = infer.main(["--output_dir", out, "--score", "--checkpoint", os.path.join(run, "best.pdparams")])
    assert exported["l1"] == pytest.approx(result["l1"], rel=1e-4) and dygraph["l1"] == pytest.approx(result["l1"])
    assert exported["fid"] == pytest.approx(result["fid"], rel=1e-3) and result["fid"] > 0


@pytest.mark.slow
def test_cyclegan_resume_gives_the_same_losses(demo, tmp_path, monkeypatch):
    """Equal losses after a resume need both optimizers, all four networks and both image pools."""
    args = TINY_CYC + ["--data_dir", domains_of(demo), "--log_interval", "3", "--batch_size", "2", "--epochs", "3"]
    a, b = whole_and_resumed_losses(args, "CycleGAN", tmp_path, monkeypatch, end=8)
    assert sorted(b) == [6, 8] and all(a[s] == pytest.approx(b[s], rel=1e-5) for s in (6, 8)), (a, b)
