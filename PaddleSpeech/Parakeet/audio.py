"""Audio features shared by the acoustic models and the vocoders: the release's mel spectrogram
(22,050 Hz, n_fft 1024, hop 256, 80 mels, natural log of the magnitude), Griffin-Lim (the baseline
vocoder), and the two vocoder metrics, spectral convergence and log-STFT distance."""
import librosa
import numpy as np
import soundfile

SAMPLE_RATE = 22050
N_FFT = 1024
HOP_LENGTH = 256
WIN_LENGTH = 1024
N_MELS = 80
FMIN = 0
FMAX = 8000
CLIP = 1e-5  # magnitudes below this are clipped before the log (silence would be -inf)
GRIFFIN_LIM_ITERS = 32


def read_wav(path):
    """(wav float32 mono in [-1, 1], sample_rate) via soundfile; stereo is averaged to mono."""
    wav, sr = soundfile.read(path, dtype="float32", always_2d=True)
    return wav.mean(axis=1).astype(np.float32), int(sr)


def wav_to_mel(wav):
    """wav float32 [T] -> natural-log magnitude mel spectrogram float32 [N_MELS, 1 + T // HOP_LENGTH]."""
    mel = librosa.feature.melspectrogram(
        y=np.asarray(wav, dtype=np.float32), sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH,
        win_length=WIN_LENGTH, window="hann", center=True, power=1.0, n_mels=N_MELS, fmin=FMIN, fmax=FMAX)
    return np.log(np.maximum(mel, CLIP)).astype(np.float32)


def griffin_lim(mel, n_iter=GRIFFIN_LIM_ITERS):
    """Log-magnitude mel [N_MELS, frames] -> wav float32, by librosa's mel inversion (NNLS to a linear
    spectrogram, then Griffin-Lim phase recovery). The baseline the neural vocoders must beat."""
    wav = librosa.feature.inverse.mel_to_audio(
        np.exp(np.asarray(mel, dtype=np.float32)), sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH,
        win_length=WIN_LENGTH, window="hann", center=True, power=1.0, n_iter=n_iter, fmin=FMIN, fmax=FMAX)
    return wav.astype(np.float32)


def _magnitudes(ref, est):
    n = min(len(ref), len(est))
    stft = lambda x: np.abs(librosa.stft(np.asarray(x[:n], dtype=np.float32), n_fft=N_FFT, hop_length=HOP_LENGTH,
                                         win_length=WIN_LENGTH, window="hann", center=True))
    return stft(ref).astype(np.float64), stft(est).astype(np.float64)


def spectral_convergence(ref, est):
    """|| |S_ref| - |S_est| ||_F / || |S_ref| ||_F on the STFT magnitudes, lengths aligned by truncation."""
    return _spectral_convergence(*_magnitudes(ref, est))


def log_stft_distance(ref, est):
    """mean | log|S_ref| - log|S_est| | over all STFT bins (magnitudes clipped at CLIP), lengths aligned by
    truncation."""
    return _log_stft_distance(*_magnitudes(ref, est))


def scores(ref, est):
    """(spectral convergence, log-STFT distance) of est against the recording ref, from one STFT of each."""
    magnitudes = _magnitudes(ref, est)
    return _spectral_convergence(*magnitudes), _log_stft_distance(*magnitudes)


def _spectral_convergence(s_ref, s_est):
    return float(np.linalg.norm(s_ref - s_est) / max(np.linalg.norm(s_ref), 1e-12))


def _log_stft_distance(s_ref, s_est):
    return float(np.mean(np.abs(np.log(np.maximum(s_ref, CLIP)) - np.log(np.maximum(s_est, CLIP)))))
