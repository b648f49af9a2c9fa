"""How low can a vocoder's scores go on the demo corpus? The demo's unvoiced letters are random noise, which
no vocoder can know from the mel: the best one reproduces the voiced sounds exactly and draws its own noise.
This script is that vocoder: make_demo_data.py's own corpus again, every utterance with the same text, pitch
and tempo, only the noise redrawn (--noise_seed), written through 16-bit PCM and cut as preprocess.py cuts.
It scores a split's utterances against the feature cache, next to Griffin-Lim from the same mel.

    python vocoder_floor.py --data_dir data/demo --split test

Only for a corpus that make_demo_data.py wrote with its defaults (--num_sentences 400 unless given).
"""
import argparse
import io

import utils  # first: it silences the warning `import paddle` prints
import numpy as np
import soundfile

import audio
import make_demo_data
import reader
import vocoder


def through_pcm16(wav):
    """wav as make_demo_data.py's 16-bit file reads back."""
    buffer = io.BytesIO()
    soundfile.write(buffer, wav, audio.SAMPLE_RATE, format="WAV", subtype="PCM_16")
    buffer.seek(0)
    return soundfile.read(buffer, dtype="float32")[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default="data/demo", help="the demo corpus with its feature cache")
    parser.add_argument("--split", default="test", choices=["train", "dev", "test"])
    parser.add_argument("--num_sentences", type=int, default=400, help="as the corpus was made")
    parser.add_argument("--noise_seed", type=int, default=123, help="seed of the redrawn noise")
    args = parser.parse_args(argv)
    wanted = set(reader.read_split(args.data_dir, args.split))
    sums, count = np.zeros(4), 0
    for uid, _, _, wav in make_demo_data.corpus(args.num_sentences, noise_rng=np.random.RandomState(args.noise_seed)):
        if uid not in wanted:
            continue
        ref, mel = vocoder.load_pair(reader.feature_path(args.data_dir, uid))
        est = through_pcm16(wav)
        if not len(ref) <= len(est) < len(ref) + audio.HOP_LENGTH:  # preprocess.py cuts to whole frames
            raise utils.DataError(f"{reader.feature_path(args.data_dir, uid)}: {len(ref)} samples, but "
                                  f"make_demo_data.py's {uid} has {len(est)}; was the corpus made with other flags?")
        sums += [*audio.scores(ref, est[:len(ref)]), *audio.scores(ref, audio.griffin_lim(mel))]
        count += 1
    if count != len(wanted):
        raise utils.DataError(f"{args.data_dir}: {len(wanted) - count} {args.split} ids are not in make_demo_data.py's "
                              f"first {args.num_sentences} sentences")
    sc, lsd, sc_gl, lsd_gl = sums / count
    print(f"{args.split} split ({count} utterances)           sc      lsd")
    print(f"the recording, its noise redrawn       {sc:.4f}  {lsd:.4f}")
    print(f"Griffin-Lim from the same mel          {sc_gl:.4f}  {lsd_gl:.4f}")


if __name__ == "__main__":
    utils.run_main(main)
