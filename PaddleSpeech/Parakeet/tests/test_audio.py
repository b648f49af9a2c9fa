"""audio.py: mel shapes and frame count, read_wav, Griffin-Lim, and the two metrics on hand-made cases."""
import os
import sys

import numpy as np
import pytest
import soundfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import audio  # noqa: E402


def tone(n, f=220.0, amp=0.5, seed=0):
    t = np.arange(n) / audio.SAMPLE_RATE
    noise = np.random.default_rng(seed).normal(0, 0.01, n)
    return (amp * np.sin(2 * np.pi * f * t) + noise).astype(np.float32)


@pytest.mark.parametrize("n", [256, 1000, 5120, 5121])
def test_mel_shape_and_frames(n):
    mel = audio.wav_to_mel(tone(n))
    assert mel.dtype == np.float32 and mel.shape == (audio.N_MELS, 1 + n // audio.HOP_LENGTH)


def test_mel_is_clipped_log_magnitude():
    assert np.allclose(audio.wav_to_mel(np.zeros(2048, np.float32)), np.log(audio.CLIP))
    loud, quiet = audio.wav_to_mel(tone(4096, amp=0.5)), audio.wav_to_mel(tone(4096, amp=0.25, seed=1))
    # magnitude (power=1): halving the amplitude lowers the loud bins by log 2
    peak = np.unravel_index(np.argmax(loud), loud.shape)
    assert loud[peak] - quiet[peak] == pytest.approx(np.log(2.0), abs=0.05)


def test_read_wav_mono_float(tmp_path):
    stereo = np.stack([tone(800), -tone(800)], axis=1) * 0.5
    soundfile.write(str(tmp_path / "a.wav"), stereo + np.float32(0.1), audio.SAMPLE_RATE, subtype="PCM_16")
    wav, sr = audio.read_wav(str(tmp_path / "a.wav"))
    assert sr == audio.SAMPLE_RATE and wav.dtype == np.float32 and wav.shape == (800,)
    assert np.allclose(wav, 0.1, atol=1e-3)


def test_metrics_hand_made():
    ref = tone(8192)
    assert audio.spectral_convergence(ref, ref) == 0.0 and audio.log_stft_distance(ref, ref) == 0.0
    # est = a * ref: |S_est| = a |S_ref|, so SC = |1 - a| and the log distance = |log a| (no bin clipped)
    assert audio.spectral_convergence(ref, 0.5 * ref) == pytest.approx(0.5, rel=1e-5)
    assert audio.log_stft_distance(ref, 0.5 * ref) == pytest.approx(np.log(2.0), rel=1e-4)
    assert audio.scores(ref, 0.5 * ref) == (audio.spectral_convergence(ref, 0.5 * ref),
                                            audio.log_stft_distance(ref, 0.5 * ref))
    assert audio.spectral_convergence(ref, 3 * ref) == pytest.approx(2.0, rel=1e-5)
    # silence as the estimate: SC = 1; lengths are aligned by truncation
    assert audio.spectral_convergence(ref, np.zeros(4096, np.float32)) == pytest.approx(1.0)
    assert audio.spectral_convergence(ref, np.concatenate([ref, tone(500, seed=3)])) == 0.0


def test_griffin_lim_reconstructs_a_tone():
    ref = tone(8192)
    est = audio.griffin_lim(audio.wav_to_mel(ref))
    assert est.dtype == np.float32 and abs(len(est) - len(ref)) < audio.HOP_LENGTH
    # far better than silence (SC 1), though not exact: the mel drops detail and the phase is estimated
    assert audio.spectral_convergence(ref, est) < 0.6
