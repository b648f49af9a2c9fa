"""The acoustic networks: the release's size (parameter count, exact for this implementation), output
shapes, causality of the decoder, learning on one fixed batch, the guided-attention weights, the
diagonality measure and the time stretch of the evaluation, on hand-made cases."""
import math

import numpy as np
import paddle
import pytest

import acoustic
import reader
import text as textlib
from models import transformer_tts as tts

# hidden 256, embedding 512, 4 heads, 3 + 3 layers, feed-forward 1024, post-net 5 x 256 (the release's
# LJSpeech configuration); the embedding prenet's three 512-wide 5-tap convolutions hold 4.09 M of them.
TRANSFORMER_TTS_RELEASE = 11_073_507


def test_transformer_tts_release_parameter_count():
    with paddle.LazyGuard():
        model = tts.TransformerTTS(textlib.NUM_SYMBOLS, 80, **tts.RELEASE)
    assert sum(math.prod(p.shape) for p in model.parameters()) == TRANSFORMER_TTS_RELEASE
    encoder_prenet = sum(math.prod(p.shape) for p in model.encoder_prenet.parameters())
    assert encoder_prenet == textlib.NUM_SYMBOLS * 512 + 3 * (512 * 512 * 5 + 512 + 4 * 512) + 512 * 256 + 256


def tiny():
    paddle.seed(0)
    return tts.TransformerTTS(textlib.NUM_SYMBOLS, 80, hidden=32, embedding=32, heads=2, encoder_layers=1,
                              decoder_layers=1, ffn=64, prenet_convs=1, postnet_channels=32, postnet_layers=3)


def test_shapes_and_causal_decoder():
    model = tiny()
    model.eval()
    ids = paddle.to_tensor([[5, 6, 7, 1], [8, 9, 1, 0]], dtype="int64")
    mel = paddle.randn([2, 9, 80])
    before, after, stop, attentions = model(ids, mel)
    assert before.shape == after.shape == [2, 9, 80] and stop.shape == [2, 9]
    assert attentions[0].shape == [2, 2, 9, 4]
    np.testing.assert_allclose(attentions[0].numpy()[1, :, :, 3], 0, atol=1e-6)  # padding gets no attention
    changed = mel.numpy().copy()
    changed[:, 6:] += 3.0  # frames from 6 on: outputs before 6 stay the same, except through the post-net's reach
    _, after2, stop2, _ = model(ids, paddle.to_tensor(changed))
    np.testing.assert_allclose(stop.numpy()[:, :6], stop2.numpy()[:, :6], atol=1e-5)
    assert np.abs(stop.numpy()[:, 6:] - stop2.numpy()[:, 6:]).max() > 1e-4


def test_loss_drops_on_a_fixed_batch(demo_dir):
    """40 steps on 4 sentences: the mel L1 falls to well under half."""
    dataset = reader.TextMelDataset(demo_dir, "train")
    batch = [paddle.to_tensor(a) for a in reader.collate([dataset[i] for i in range(4)])]
    model = tiny()
    optimizer = paddle.optimizer.Adam(learning_rate=3e-3, parameters=model.parameters())
    parts = []
    for _ in range(40):
        loss, p = tts.loss(model(batch[0], acoustic._go_shift(batch[2])), batch[2], batch[3], batch[1], guided=1.0)
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        parts.append(p["mel_after"].item())
    assert parts[-1] < 0.45 * parts[0], parts


def test_guided_attention_weights_by_hand():
    w = tts.guided_weights(paddle.to_tensor([2, 1]), paddle.to_tensor([2, 3]), 2, 3, 0.2).numpy()
    # sentence 0: L=2, T=2; (t, l) = (1, 0): 1 - exp(-(0 - 0.5)^2 / 0.08)
    assert w[0, 1, 0] == pytest.approx(1 - math.exp(-0.25 / 0.08), rel=1e-5)
    assert w[0, 0, 0] == pytest.approx(0.0, abs=1e-7) and w[0, 2, 0] == -1  # t = 2 is padding
    assert w[1, 0, 1] == -1 and w[1, 2, 0] == pytest.approx(1 - math.exp(-(2 / 3) ** 2 / 0.08), rel=1e-5)


def test_diagonality_by_hand():
    diagonal = np.eye(10)
    assert tts.diagonality(diagonal, 10, 10) == pytest.approx(1.0)
    flat = np.full((10, 10), 0.1)
    assert tts.diagonality(flat, 10, 10) == pytest.approx(0.28)  # 28 of 100 cells within one character
    reversed_ = diagonal[::-1]
    assert tts.diagonality(reversed_, 10, 10) == pytest.approx(0.2)
    stretched = np.repeat(np.eye(5), 3, axis=0)  # 15 frames, 5 characters, 3 frames each
    assert tts.diagonality(stretched, 5, 15) == pytest.approx(1.0)


def test_stretch():
    mel = np.array([[0.0], [2.0]])
    np.testing.assert_allclose(acoustic.stretch(mel, 3), [[0.0], [1.0], [2.0]])
    np.testing.assert_allclose(acoustic.stretch(np.arange(4.0)[:, None], 4), np.arange(4.0)[:, None])
