"""The data path: the demo's Kaldi data directories, Kaldi's frame count, fbank + deltas, splicing and the
label delay, resampling and down-mixing, segments, and every kind of bad input stopping with file and line
(or skipped and counted)."""
import argparse
import os
import shutil

import numpy as np
import pytest

import reader
import utils


def flags(**kw):
    return argparse.Namespace(**{"skip_bad_samples": False, **kw})


@pytest.fixture()
def lang(demo_dir):
    return reader.Lang.load(demo_dir)


def test_demo_is_a_kaldi_data_directory(demo_dir, lang):
    for split in reader.SPLITS:
        names = sorted(os.listdir(os.path.join(demo_dir, split)))
        assert names == ["ali.txt", "text", "utt2spk", "wav.scp"]
        keys = [line.split()[0] for line in open(os.path.join(demo_dir, split, "wav.scp"))]
        assert keys == sorted(keys)  # Kaldi wants its tables sorted
    utts = reader.load_split(demo_dir, "train", lang, flags())
    assert len(utts) == 32 and lang.num_states == 34 and lang.silence == {0}
    u = utts[0]
    assert u.speaker == u.utt.split("-")[0] and len(u.ali) == u.frames
    import soundfile
    assert u.frames == reader.frames_of(soundfile.info(u.audio).frames)


def test_kaldi_frame_count_and_feature_layout():
    samples = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    feats = reader.features(samples)
    assert feats.shape == (98, 240) == (reader.frames_of(16000), 240)  # 1 + (16000 - 400) // 160
    tone = np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32)
    bands = reader.fbank(tone).mean(axis=0)
    centres = 700 * np.expm1(np.linspace(1127 * np.log1p(20 / 700), 1127 * np.log1p(8000 / 700), 82) / 1127)[1:-1]
    assert abs(centres[bands.argmax()] - 1000) < 60  # the band around 1 kHz is the loudest


def test_deltas_by_hand():
    x = np.arange(6, dtype=np.float32)[:, None] ** 2  # 0 1 4 9 16 25
    d = reader.add_deltas(x)
    # order 1 at t=2: (1*(9-1) + 2*(16-0)) / 10 = 4.0; at t=0 the edges repeat: (1*(1-0) + 2*(4-0)) / 10 = 0.9
    assert d[2, 1] == pytest.approx(4.0) and d[0, 1] == pytest.approx(0.9)
    # order 2 of a parabola in the interior: the order-1 filter twice gives a constant 2 * (1*1 + 2*2)^2 / 100
    long = np.arange(20, dtype=np.float32)[:, None] ** 2
    assert np.allclose(reader.add_deltas(long)[4:-4, 2], 2.0)


def test_splice_and_delay():
    x = np.arange(4, dtype=np.float32)[:, None]
    assert reader.splice(x, 1).tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3]]
    assert reader.delay_labels(np.array([5, 6, 7, 8]), 2).tolist() == [5, 5, 5, 6]
    assert reader.undelay(np.array([5, 5, 5, 6]), 2).tolist() == [5, 6, 6, 6]


def test_any_rate_is_resampled_and_stereo_mixed_down(tmp_path):
    import soundfile
    t = np.arange(44100) / 44100
    left = 0.5 * np.sin(2 * np.pi * 1000 * t)
    soundfile.write(tmp_path / "stereo.wav", np.stack([left, np.zeros_like(left)], 1), 44100)
    samples = reader.load_audio(str(tmp_path / "stereo.wav"))
    assert len(samples) == 16000 == reader.check_audio(str(tmp_path / "stereo.wav"), "x")
    assert abs(np.abs(samples).max() - 0.25) < 0.02  # the mean of both channels


def copy_split(demo_dir, tmp_path, split="train"):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("wav", "states.txt", "lexicon.txt", "global_cmvn.npz"):
        os.symlink(os.path.join(demo_dir, name), bad / name)
    shutil.copytree(os.path.join(demo_dir, split), bad / split)
    return bad


def edit_line(path, number, new):
    lines = open(path).read().splitlines()
    lines[number - 1] = new
    open(path, "w").write("\n".join(lines) + "\n")


def test_segments_cut_recordings(demo_dir, tmp_path, lang):
    """With a segments file, wav.scp holds recordings and each segment is a slice of one."""
    bad = copy_split(demo_dir, tmp_path)
    utts = reader.load_split(demo_dir, "train", lang, flags())
    u = utts[0]
    audio = reader.load_audio(u.audio)
    (bad / "train" / "segments").write_text(f"{u.utt} {u.utt} 0.00 {len(audio) / 16000:.5f}\n")
    for name in ("text", "utt2spk", "ali.txt"):
        edit = [line for line in open(bad / "train" / name) if line.startswith(u.utt + " ")]
        (bad / "train" / name).write_text("".join(edit))
    (seg,) = reader.load_split(str(bad), "train", lang, flags())
    assert seg.frames == u.frames and seg.where == f"{bad}/train/segments:1"
    (bad / "train" / "segments").write_text(f"{u.utt} {u.utt} 0.3 0.8\n")
    edit_line(bad / "train" / "ali.txt", 1, u.utt + " 0" * reader.frames_of(8000))
    (seg,) = reader.load_split(str(bad), "train", lang, flags())
    np.testing.assert_array_equal(reader.load_utterance(seg), audio[4800:12800])


def test_an_alignment_whose_frames_disagree_with_the_audio(demo_dir, tmp_path, lang):
    bad = copy_split(demo_dir, tmp_path)
    path = bad / "train" / "ali.txt"
    line = open(path).read().splitlines()[2]
    edit_line(path, 3, line + " 0 0")
    utt = line.split()[0]
    n = len(line.split()) - 1
    with pytest.raises(utils.DataError, match=rf"^{path}:3: {utt} has {n + 2} alignment frames but its audio gives {n} "):
        reader.load_split(str(bad), "train", lang, flags())
    assert len(reader.load_split(str(bad), "train", lang, flags(skip_bad_samples=True))) == 31
    edit_line(path, 3, line.rsplit(" ", 1)[0] + " 34")
    with pytest.raises(utils.DataError, match=rf"^{path}:3: state id 34 out of range \(34 states"):
        reader.load_split(str(bad), "train", lang, flags())


def test_a_missing_a_corrupt_an_empty_and_a_silent_audio_file(demo_dir, tmp_path, lang):
    import soundfile
    bad = copy_split(demo_dir, tmp_path)
    scp = bad / "train" / "wav.scp"
    utt = open(scp).read().splitlines()[1].split()[0]
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF this is not a wav file" * 10)
    (tmp_path / "empty.wav").write_bytes(b"")
    soundfile.write(tmp_path / "silent.wav", np.zeros(0, dtype=np.float32), 16000)
    for target, message in ((tmp_path / "none.wav", "audio file not found"), (tmp_path / "corrupt.wav", "unreadable audio"),
                            (tmp_path / "empty.wav", r"empty audio file \(0 bytes\)"),
                            (tmp_path / "silent.wav", "no samples in")):
        edit_line(scp, 2, f"{utt} {target}")
        with pytest.raises(utils.DataError, match=rf"^{scp}:2: {message}"):
            reader.load_split(str(bad), "train", lang, flags())
    edit_line(scp, 2, f"{utt} sox in.flac -t wav - |")
    with pytest.raises(utils.DataError, match=rf"^{scp}:2: a command \(pipe\) instead of an audio file"):
        reader.load_split(str(bad), "train", lang, flags())


def test_words_outside_the_lexicon(demo_dir, tmp_path, lang, capsys):
    """Training: an error naming the words (or skipped and counted); dev/test: counted, and they count as
    errors in the CER."""
    bad = copy_split(demo_dir, tmp_path)
    path = bad / "train" / "text"
    utt = open(path).read().splitlines()[3].split()[0]
    edit_line(path, 4, f"{utt} sam zurich")
    with pytest.raises(utils.DataError, match=rf"^{path}:4: words not in lexicon.txt: zurich"):
        reader.load_split(str(bad), "train", lang, flags())
    assert len(reader.load_split(str(bad), "train", lang, flags(skip_bad_samples=True))) == 31
    assert "skipped 1 bad utterance(s)" in capsys.readouterr().out
    os.rename(bad / "train", bad / "test")
    assert len(reader.load_split(str(bad), "test", lang, flags())) == 32
    assert "1 transcript(s) hold words outside the lexicon" in capsys.readouterr().out


def test_malformed_tables(demo_dir, tmp_path, lang):
    bad = copy_split(demo_dir, tmp_path)
    edit_line(bad / "train" / "utt2spk", 5, "lonely")
    with pytest.raises(utils.DataError, match=rf"^{bad}/train/utt2spk:5: expected at least 2 fields, got 1"):
        reader.load_split(str(bad), "train", lang, flags())
    (bad / "train" / "utt2spk").unlink()
    with pytest.raises(utils.DataError, match=rf"^{bad}/train/utt2spk: file not found"):
        reader.load_split(str(bad), "train", lang, flags())
    (bad / "lexicon.txt").unlink()
    (bad / "lexicon.txt").write_text("sam s a m\nzoo z o o\n")
    with pytest.raises(utils.DataError, match=rf"^{bad}/lexicon.txt:2: phones not in states.txt: z"):
        reader.Lang.load(str(bad))


def test_a_truncated_file_is_named_when_decoded(tmp_path):
    """A file whose header reads but whose data is cut: the dataset returns the error, collate raises it."""
    import soundfile
    soundfile.write(tmp_path / "cut.flac", np.random.default_rng(0).uniform(-.5, .5, 16000), 16000)
    data = (tmp_path / "cut.flac").read_bytes()
    (tmp_path / "cut.flac").write_bytes(data[:len(data) // 3] + b"\x00" * 40)
    u = reader.Utterance("u1", str(tmp_path / "cut.flac"), "wav.scp:9")
    u.ali = np.zeros(reader.frames_of(16000), dtype=np.int64)
    u.ali_where = "ali.txt:9"
    item = reader.AlignedDataset([u], lambda s: reader.features(s), 5)[0]
    assert isinstance(item, str) and item.startswith(("wav.scp:9: unreadable audio", "ali.txt:9: u1 has 98"))
    with pytest.raises(utils.DataError, match="^(wav.scp|ali.txt):9: "):
        reader.collate([item])


@pytest.mark.slow
def test_mel_filters_and_deltas_agree_with_librosa():
    import librosa
    np.testing.assert_allclose(reader.mel_filters(), librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=20.0,
                                                                         fmax=8000, htk=True, norm=None), atol=1e-6)
    x = np.random.default_rng(0).standard_normal((50, 80)).astype(np.float32)
    np.testing.assert_allclose(reader.add_deltas(x)[:, 80:160],
                               librosa.feature.delta(x.T, width=5, order=1, mode="nearest").T, atol=1e-5)
