"""The LJSpeech reader, the text front end and the feature cache: the demo data parses, the cache has
the agreed shapes, and every kind of bad input stops with `file:line: what` (or is skipped and counted)."""
import os
import shutil

import numpy as np
import pytest
import soundfile

import audio
import preprocess
import reader
import text as textlib
import utils


def test_symbols_and_normalisation():
    assert textlib.normalise("Mr. Smith paid 42  dollars.") == "mister smith paid four two dollars."
    ids, dropped = textlib.text_to_ids("Héllo, wörld")
    assert textlib.ids_to_text(ids) == "hllo, wrld" and ids[-1] == textlib.EOS_ID
    assert dropped == {"é": 1, "ö": 1}
    assert textlib.PAD_ID == 0 and len(set(textlib.SYMBOLS)) == textlib.NUM_SYMBOLS


def test_demo_data_and_feature_cache(demo_dir):
    entries = reader.read_metadata(demo_dir)
    assert len(entries) == 24 and all(e.where.endswith(f"metadata.csv:{k + 1}") for k, e in enumerate(entries))
    splits = {s: reader.read_split(demo_dir, s) for s in reader.SPLITS}
    assert [len(splits[s]) for s in reader.SPLITS] == [22, 1, 1]
    assert sorted(sum(splits.values(), [])) == sorted(e.uid for e in entries)
    with np.load(reader.feature_path(demo_dir, entries[0].uid)) as f:
        wav, mel = f["wav"], f["mel"]
    raw, sr = audio.read_wav(reader.wav_path(demo_dir, entries[0].uid))
    assert sr == audio.SAMPLE_RATE and mel.shape[0] == audio.N_MELS
    assert mel.shape[1] == 1 + len(raw) // audio.HOP_LENGTH - 1 and len(wav) == mel.shape[1] * audio.HOP_LENGTH
    np.testing.assert_allclose(mel, audio.wav_to_mel(raw)[:, :-1], atol=1e-5)
    ids, m = reader.TextMelDataset(demo_dir, "train")[0]
    # the demo's 50 ms of leading digital silence fill the first 3 frames (a window of 1,024 centred at
    # 0, 256, 512); the 4th already holds the onset and is kept
    assert ids.dtype == np.int64 and np.array_equal(m, mel.T[3:]) and (mel[:, :3] == reader.MEL_PAD).all()


def test_leading_silence_by_hand():
    mel = np.full((6, 4), reader.MEL_PAD, dtype=np.float32)
    mel[2, 1] = 0.0 - 60 * np.log(10) / 20 - 0.01  # just over 60 dB below the loudest: still silence
    mel[3, 0], mel[5, 2] = -6.0, 0.0  # -6 nats is 52 dB below: sound
    assert reader.leading_silence(mel) == 3
    assert reader.leading_silence(mel, top_db=40) == 5
    assert reader.leading_silence(mel[5:]) == 0


def test_demo_data_is_deterministic(tmp_path):
    import make_demo_data
    for name in ("a", "b"):
        make_demo_data.main(["--out_dir", str(tmp_path / name), "--num_sentences", "3"])
    assert (tmp_path / "a/metadata.csv").read_text() == (tmp_path / "b/metadata.csv").read_text()
    uid = (tmp_path / "a/metadata.csv").read_text().split("|")[0]
    assert (tmp_path / f"a/wavs/{uid}.wav").read_bytes() == (tmp_path / f"b/wavs/{uid}.wav").read_bytes()


@pytest.fixture
def small(demo_dir, tmp_path):
    """A copy of the demo corpus (metadata and wavs only) to break."""
    out = tmp_path / "small"
    out.mkdir()
    shutil.copy(os.path.join(demo_dir, "metadata.csv"), out)
    shutil.copytree(os.path.join(demo_dir, "wavs"), out / "wavs")
    return out


def append(small, line):
    with open(small / "metadata.csv", "a") as f:
        f.write(line + "\n")
    return len((small / "metadata.csv").read_text().splitlines())


def test_wrong_number_of_fields(small):
    n = append(small, "LJ009-0001|only two fields")
    with pytest.raises(utils.DataError, match=rf"metadata.csv:{n}: 2 fields separated by '\|', expected 3"):
        reader.read_metadata(str(small))
    assert len(reader.read_metadata(str(small), skip_bad=True)) == 24


def test_missing_wav(small):
    n = append(small, "LJ009-0002|Gone.|gone.")
    with pytest.raises(utils.DataError, match=rf"metadata.csv:{n}: .*LJ009-0002.wav: wav file missing"):
        preprocess.preprocess(str(small))
    assert not (small / "features").exists()  # nothing is written when a line is bad


def test_corrupt_wav(small):
    (small / "wavs/LJ009-0003.wav").write_bytes(b"RIFF....WAVEfmt garbage")
    n = append(small, "LJ009-0003|Broken.|broken.")
    with pytest.raises(utils.DataError, match=rf"metadata.csv:{n}: .*LJ009-0003.wav: not a readable wav"):
        preprocess.preprocess(str(small))
    done = preprocess.preprocess(str(small), skip_bad=True)
    assert len(done) == 24 and "LJ009-0003" not in done


def test_other_sample_rate_is_resampled_with_a_notice(small, capsys):
    wav, _ = audio.read_wav(str(small / "wavs/LJ001-0000.wav"))
    import librosa
    soundfile.write(small / "wavs/LJ009-0004.wav", librosa.resample(wav, orig_sr=22050, target_sr=16000), 16000)
    n = append(small, "LJ009-0004|Slow.|slow.")
    preprocess.preprocess(str(small))
    assert f"metadata.csv:{n}" in capsys.readouterr().out.split("resampled to it (first: ")[1]
    with np.load(reader.feature_path(str(small), "LJ009-0004")) as f:
        resampled = f["mel"]
    with np.load(reader.feature_path(str(small), "LJ001-0000")) as f:
        original = f["mel"]
    assert abs(resampled.shape[1] - original.shape[1]) <= 1  # the same duration at 22,050 Hz
    frames = min(resampled.shape[1], original.shape[1])
    assert np.abs(resampled[:40, :frames] - original[:40, :frames]).mean() < 0.5  # below 7 kHz: the same sound


def test_characters_outside_the_symbol_set_are_dropped_and_counted(small, capsys):
    append(small, "LJ009-0005|Café #1|café ñ #")
    entries = reader.read_metadata(str(small))
    assert textlib.ids_to_text(entries[-1].ids) == "caf  "
    out = capsys.readouterr().out
    assert "3 characters outside the symbol set dropped in 1 lines" in out and "'é' x1" in out


def test_text_with_no_symbol_at_all(small):
    n = append(small, "LJ009-0006|###|###")
    with pytest.raises(utils.DataError, match=rf"metadata.csv:{n}: no character of the symbol set"):
        reader.read_metadata(str(small))
