"""Synthesise a small speech-like corpus, offline and seeded, in the LibriSpeech layout, then write
what training needs beside it: the manifests, vocab.txt, mean_std.npz and a character LM.

    python make_demo_data.py --out_dir data/demo            # 800 train, 100 dev, 100 test utterances

The "language": 16 words spelled with 11 letters. Every letter is a phone-like unit: a vowel (a e i
o u: a pitched buzz through its formants), a voiced consonant (m n l: low formants, softer), or a
noise consonant (s: hiss, k t: bursts). A word is its letters' units in a row; sentences of 2 to 4
words are read with pauses between the words. Speakers differ in pitch (90-240 Hz) and vocal tract
(formants scaled by 0.88-1.15); each utterance in speed (0.8-1.25x), pitch drift and noise (SNR 15-35
dB). dev and test use speakers training never heard, and their sentences are new word sequences, so
the transcript is recoverable only from the audio: the most frequent training transcript (the trivial
baseline) gets nearly every word wrong.

Files are 16 kHz mono FLAC (soundfile), transcripts upper case as in LibriSpeech:
    OUT_DIR/LibriSpeech/{train-clean-100,dev-clean,test-clean}/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac
    OUT_DIR/LibriSpeech/.../<spk>/<chapter>/<spk>-<chapter>.trans.txt
    OUT_DIR/manifest.{train,dev,test}, vocab.txt, mean_std.npz, char_lm.json
"""
import argparse
import os

import numpy as np

import utils

RATE = 16000
WORDS = ["sam", "kito", "mena", "lu", "tom", "nile", "sokat", "kemi", "sul", "tane", "moli",
         "lek", "musa", "inka", "tulo", "kasi"]
# vowels: formants F1, F2, F3 (Hz) of an adult male voice, scaled per speaker
VOWELS = {"a": (730, 1090, 2440), "e": (530, 1840, 2480), "i": (270, 2290, 3010), "o": (570, 840, 2410),
          "u": (300, 870, 2240)}
VOICED = {"m": (250, 1200, 2200), "n": (250, 1700, 2600), "l": (360, 1300, 2700)}
NOISE = {"s": (4000, 7500, 0.0), "k": (1500, 3000, 0.05), "t": (3000, 5500, 0.04)}  # band, closure (s)
SPLITS = {"train": "train-clean-100", "dev": "dev-clean", "test": "test-clean"}


def harmonic_sound(n, f0, formants, rng, bandwidth=90.0):
    """n samples of a pitched buzz whose harmonics follow the formant envelope (additive synthesis)."""
    t = np.arange(n) / RATE
    drift = f0 * (1 + 0.03 * np.sin(2 * np.pi * rng.uniform(2, 5) * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(drift) / RATE
    out = np.zeros(n)
    for k in range(1, int(3800 / f0) + 1):
        f = k * f0
        gain = sum(1.0 / (1 + ((f - fm) / bandwidth) ** 2) * (0.6 ** i) for i, fm in enumerate(formants))
        out += gain * np.sin(k * phase) / np.sqrt(k)
    return out


def noise_sound(n, band, rng):
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(freqs < band[0]) | (freqs > band[1])] = 0
    out = np.fft.irfft(spectrum, n)
    return out / (np.abs(out).max() + 1e-9)


def ramp(x, ms=8):
    m = min(len(x) // 2, RATE * ms // 1000)
    if m:
        x[:m] *= np.linspace(0, 1, m)
        x[-m:] *= np.linspace(1, 0, m)
    return x


def speak(sentence, speaker, rng):
    """Samples of a sentence read by a speaker (dict with f0 and formant scale)."""
    speed = rng.uniform(0.8, 1.25)
    f0 = speaker["f0"] * rng.uniform(0.92, 1.08)
    parts = [np.zeros(int(RATE * rng.uniform(0.05, 0.15)))]
    for w, word in enumerate(sentence.split()):
        if w:
            parts.append(np.zeros(int(RATE * rng.uniform(0.07, 0.16) / speed)))
        for letter in word:
            if letter in VOWELS:
                n = int(RATE * rng.uniform(0.09, 0.12) / speed)
                sound = harmonic_sound(n, f0, [f * speaker["scale"] for f in VOWELS[letter]], rng)
            elif letter in VOICED:
                n = int(RATE * rng.uniform(0.07, 0.09) / speed)
                sound = 0.4 * harmonic_sound(n, f0, [f * speaker["scale"] for f in VOICED[letter]], rng, 60.0)
            else:
                lo, hi, closure = NOISE[letter]
                n = int(RATE * rng.uniform(0.06, 0.08) / speed)
                burst = noise_sound(n, (lo * speaker["scale"], min(hi * speaker["scale"], 7900)), rng)
                if closure:  # a stop: silence, then a decaying burst
                    c = int(RATE * closure / speed)
                    burst[:c] = 0
                    burst[c:] *= np.exp(-np.arange(n - c) / (0.02 * RATE))
                sound = 0.5 * burst
            parts.append(ramp(sound / (np.abs(sound).max() + 1e-9)))
        f0 *= rng.uniform(0.96, 1.0)  # declination over the sentence
    parts.append(np.zeros(int(RATE * rng.uniform(0.05, 0.15))))
    audio = np.concatenate(parts)
    snr = rng.uniform(15, 35)
    noise = rng.standard_normal(len(audio)) * np.sqrt(np.mean(audio ** 2) / 10 ** (snr / 10))
    audio = (audio + noise) * rng.uniform(0.2, 0.6) / (np.abs(audio).max() + 1e-9)
    return np.clip(audio, -1, 1).astype(np.float32)


def sentences(rng, count, exclude=()):
    out, seen = [], set(exclude)
    while len(out) < count:
        s = " ".join(rng.choice(WORDS, rng.integers(2, 5)))
        if s not in seen or len(seen) > 20000:
            seen.add(s)
            out.append(s)
    return out


def write_split(root, split, texts, speakers, rng, first_speaker):
    """LibriSpeech layout: one chapter per speaker, utterances numbered, transcripts upper case."""
    import soundfile
    per_speaker = -(-len(texts) // len(speakers))
    for s, speaker in enumerate(speakers):
        spk, chapter = first_speaker + s, 100 + s
        folder = os.path.join(root, SPLITS[split], str(spk), str(chapter))
        os.makedirs(folder, exist_ok=True)
        lines = []
        for u, text in enumerate(texts[s * per_speaker:(s + 1) * per_speaker]):
            utt = f"{spk}-{chapter}-{u:04d}"
            soundfile.write(os.path.join(folder, utt + ".flac"), speak(text, speaker, rng), RATE, format="FLAC")
            lines.append(f"{utt} {text.upper()}\n")
        with open(os.path.join(folder, f"{spk}-{chapter}.trans.txt"), "w") as f:
            f.writelines(lines)


def make_speakers(rng, n):
    return [{"f0": rng.uniform(90, 240), "scale": rng.uniform(0.88, 1.15)} for _ in range(n)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write")
    parser.add_argument("--num_train", type=int, default=800, help="training utterances")
    parser.add_argument("--num_eval", type=int, default=100, help="dev and test utterances each")
    parser.add_argument("--num_speakers", type=int, default=12, help="training speakers (dev/test: a third each)")
    parser.add_argument("--lm_order", type=int, default=5, help="order of the character LM written beside")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    import build_lm
    import build_vocab
    import compute_mean_std
    import make_manifest
    from ctc_decoders import CharNgramLM

    rng = np.random.default_rng(args.seed)
    root = os.path.join(args.out_dir, "LibriSpeech")
    train_texts = sentences(rng, args.num_train)
    eval_speakers = max(1, args.num_speakers // 3)
    write_split(root, "train", train_texts, make_speakers(rng, args.num_speakers), rng, 1000)
    for i, split in enumerate(("dev", "test")):
        texts = sentences(rng, args.num_eval, exclude=train_texts)
        write_split(root, split, texts, make_speakers(rng, eval_speakers), rng, 2000 + 500 * i)
    for split in ("train", "dev", "test"):
        records = make_manifest.scan_split(os.path.join(root, SPLITS[split]), args.out_dir)
        make_manifest.write_manifest(records, os.path.join(args.out_dir, f"manifest.{split}"))
    train_manifest = os.path.join(args.out_dir, "manifest.train")
    build_vocab.build_vocab(train_manifest).save(os.path.join(args.out_dir, "vocab.txt"))
    mean, std, _ = compute_mean_std.compute_mean_std(train_manifest, "linear", num_samples=300)
    np.savez(os.path.join(args.out_dir, "mean_std.npz"), mean=mean, std=std, feature="linear")
    lm = CharNgramLM.train(build_lm.sentences_of(train_manifest, True), args.lm_order)
    lm.save(os.path.join(args.out_dir, "char_lm.json"))
    print(f"wrote {args.num_train}/{args.num_eval}/{args.num_eval} utterances (16 kHz FLAC, LibriSpeech layout), "
          f"manifests, vocab.txt, mean_std.npz and char_lm.json to {args.out_dir}")


if __name__ == "__main__":
    utils.run_main(main)
