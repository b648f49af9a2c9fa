"""The data path: the demo corpus in the LibriSpeech layout and its manifests, features with the
release's window and stride, resampling and down-mixing, SortaGrad, the duration filter, and every
kind of bad input stopping with file and line (or skipped and counted)."""
import argparse
import json
import os
import shutil

import numpy as np
import pytest

import make_manifest
import reader
import utils


def flags(**kw):
    return argparse.Namespace(**{"min_duration": 0.0, "max_duration": 27.0, "skip_bad_samples": False, **kw})


def test_demo_manifests_are_the_librispeech_layout(demo_dir, tmp_path):
    with open(os.path.join(demo_dir, "manifest.train")) as f:
        records = [json.loads(line) for line in f]
    assert len(records) == 40 and set(records[0]) == {"audio_filepath", "duration", "text"}
    assert records[0]["audio_filepath"].startswith("LibriSpeech/train-clean-100/") and records[0]["text"].islower()
    # make_manifest.py over the same folders writes the same manifest
    again = make_manifest.scan_split(os.path.join(demo_dir, "LibriSpeech", "train-clean-100"), demo_dir)
    assert again == records
    vocab = reader.Vocab.load(os.path.join(demo_dir, "vocab.txt"))
    assert " " in vocab.chars and vocab.blank == len(vocab.chars) == 12


def test_features_use_the_release_window_and_stride():
    samples = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    feats = reader.features(samples)
    assert feats.shape == (99, 161) == (reader.frames_of(1.0), reader.feature_dim("linear"))
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32)
    assert reader.features(tone).mean(axis=0).argmax() == 20  # 1000 Hz / (8000 Hz / 160 bins)


@pytest.mark.slow
def test_fbank_is_80_mel_bands():
    samples = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    feats = reader.features(samples, "fbank")
    assert feats.shape == (99, 80) == (reader.frames_of(1.0), reader.feature_dim("fbank"))
    import librosa  # the mel bands of librosa's own power mel spectrogram over the same frames
    expected = librosa.feature.melspectrogram(y=samples, sr=16000, n_fft=320, hop_length=160, window=np.hanning(320),
                                              center=False, power=2.0, n_mels=80)
    scale = float(np.sum(np.hanning(320) ** 2)) * 16000
    np.testing.assert_allclose(feats[:, 10:70], np.log(2 * expected.T / scale + 1e-14)[:, 10:70], atol=1e-3)


def test_any_rate_is_resampled_and_stereo_mixed_down(tmp_path):
    import soundfile
    t = np.arange(44100) / 44100
    left = 0.5 * np.sin(2 * np.pi * 1000 * t)
    soundfile.write(tmp_path / "stereo.wav", np.stack([left, np.zeros_like(left)], 1), 44100)
    samples = reader.load_audio(str(tmp_path / "stereo.wav"))
    assert len(samples) == 16000 and abs(np.abs(samples).max() - 0.25) < 0.02  # the mean of both channels
    assert reader.features(samples).mean(axis=0).argmax() == 20


def test_sortagrad_first_epoch_sorted_then_shuffled():
    durations = np.random.default_rng(0).uniform(1, 10, 50)
    sampler = reader.SortaGradSampler(durations, 8, seed=3)
    first = [i for b in sampler.batches(0) for i in b]
    assert np.all(np.diff(durations[first]) >= 0) and sorted(first) == list(range(50))
    second = sampler.batches(1)
    assert sorted(i for b in second for i in b) == list(range(50)) and len(second) == len(sampler.batches(0))
    assert [i for b in second for i in b] != first
    sampler.set_epoch(1, start_batch=2)
    assert list(sampler) == second[2:]


def test_duration_filter_counts(demo_dir, capsys):
    path = os.path.join(demo_dir, "manifest.train")
    entries, _ = reader.read_manifest(path)
    cut = sorted(e.duration for e in entries)[10]
    vocab = reader.Vocab.load(os.path.join(demo_dir, "vocab.txt"))
    kept = reader.load_split(path, vocab, flags(min_duration=cut), train=True)
    assert len(kept) == 30
    assert "dropped 10 shorter than --min_duration" in capsys.readouterr().out


def bad_copy(demo_dir, tmp_path, line, at=3):
    bad = tmp_path / "bad"
    bad.mkdir()
    os.symlink(os.path.join(demo_dir, "LibriSpeech"), bad / "LibriSpeech")
    lines = open(os.path.join(demo_dir, "manifest.train"), "rb").read().splitlines(keepends=True)
    (bad / "manifest.train").write_bytes(b"".join(lines[:at - 1] + [line] + lines[at - 1:]))
    return str(bad / "manifest.train")


def record(audio, text="sam lu", duration=1.0):
    return (json.dumps({"audio_filepath": audio, "duration": duration, "text": text}) + "\n").encode()


@pytest.fixture()
def vocab(demo_dir):
    return reader.Vocab.load(os.path.join(demo_dir, "vocab.txt"))


def test_a_line_that_is_not_json(demo_dir, tmp_path, vocab):
    path = bad_copy(demo_dir, tmp_path, b'{"audio_filepath": "x.flac", "duration": 1.0,\n')
    with pytest.raises(utils.DataError, match=rf"^{path}:3: not a json line"):
        reader.load_split(path, vocab, flags(), train=True)
    assert len(reader.load_split(path, vocab, flags(skip_bad_samples=True), train=True)) == 40


def test_a_missing_audio_file(demo_dir, tmp_path, vocab):
    path = bad_copy(demo_dir, tmp_path, record("LibriSpeech/nowhere.flac"))
    with pytest.raises(utils.DataError, match=rf"^{path}:3: audio file not found: .*nowhere.flac"):
        reader.load_split(path, vocab, flags(), train=True)


def test_a_corrupt_and_an_empty_audio_file(demo_dir, tmp_path, vocab):
    (tmp_path / "corrupt.flac").write_bytes(b"fLaC this is not a flac stream" * 10)
    (tmp_path / "empty.wav").write_bytes(b"")
    path = bad_copy(demo_dir, tmp_path, record(str(tmp_path / "corrupt.flac")))
    with pytest.raises(utils.DataError, match=rf"^{path}:3: unreadable audio .*corrupt.flac"):
        reader.load_split(path, vocab, flags(), train=True)
    shutil.rmtree(tmp_path / "bad")
    path = bad_copy(demo_dir, tmp_path, record(str(tmp_path / "empty.wav")), at=5)
    with pytest.raises(utils.DataError, match=rf"^{path}:5: empty audio file \(0 bytes\)"):
        reader.load_split(path, vocab, flags(), train=True)


def test_a_wav_with_no_samples(tmp_path, vocab):
    import soundfile
    soundfile.write(tmp_path / "silent.wav", np.zeros(0, dtype=np.float32), 16000)
    entry = reader.Entry("m", 7, str(tmp_path / "silent.wav"), 0.0, "")
    with pytest.raises(utils.DataError, match="^m:7: no samples in"):
        reader.check_audio(entry)


def test_characters_outside_the_vocabulary(demo_dir, tmp_path, vocab, capsys):
    """Training: an error naming the characters (or skipped and counted); dev/test: counted, and they
    count as errors in the WER."""
    audio = json.loads(open(os.path.join(demo_dir, "manifest.train")).readline())["audio_filepath"]
    path = bad_copy(demo_dir, tmp_path, record(audio, text="SAM Zürich!"))
    with pytest.raises(utils.DataError, match=rf"^{path}:3: characters not in the vocabulary: '!chrzü'"):
        reader.load_split(path, vocab, flags(), train=True)
    assert len(reader.load_split(path, vocab, flags(skip_bad_samples=True), train=True)) == 40
    assert "skipped 1 bad line(s)" in capsys.readouterr().out
    assert len(reader.load_split(path, vocab, flags())) == 41
    assert "1 transcript(s) hold characters the model cannot output" in capsys.readouterr().out


def test_a_truncated_file_is_named_when_decoded(tmp_path, vocab):
    """A file whose header reads but whose data is cut: the dataset returns the error, collate raises it."""
    import soundfile
    soundfile.write(tmp_path / "cut.flac", np.random.default_rng(0).uniform(-.5, .5, 16000), 16000)
    data = (tmp_path / "cut.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[:len(data) // 3] + b"\x00" * 40)
    entry = reader.Entry("m.json", 9, str(tmp_path / "cut.flac"), 1.0, "sam")
    dataset = reader.SpeechDataset([entry], vocab, lambda f: f, "linear")
    item = dataset[0]
    if isinstance(item, str):  # libsndfile refused the stream
        with pytest.raises(utils.DataError, match="^m.json:9: unreadable audio"):
            reader.collate([item])
    else:  # it decoded what it could: still audio of the right kind
        assert item[0].shape[1] == 161
