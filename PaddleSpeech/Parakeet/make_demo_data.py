"""Write a small, learnable TTS corpus in the LJSpeech layout (22,050 Hz mono 16-bit wavs):

    OUT_DIR/metadata.csv     id|raw text|normalised text, one line per utterance
    OUT_DIR/wavs/<id>.wav

The "reader" is a deterministic formant synthesiser: every character is one short unit with its own
sound. Vowels are voiced (harmonics of the pitch shaped by the letter's three formants), voiced
consonants are quieter voiced units, the other consonants are noise in the letter's own band, a
space is a short pause and punctuation a longer one. The pitch falls over a sentence (rises at the
end of a question) around the speaker's own level, and each speaker has its own tempo; both jitter a
little per sentence. So the text decides the audio up to that small jitter: an acoustic model can
learn the mapping, and the right answer is known.

    python make_demo_data.py --out_dir data/demo                       # 400 sentences, ~6 min of audio
    python make_demo_data.py --out_dir data/smoke --num_sentences 24   # the smoke run's
"""
import argparse
import os

import numpy as np
import soundfile

SAMPLE_RATE = 22050
VOWELS = "aeiouy"
VOICED = "bdgjlmnrvwz"
UNVOICED = "cfhkpqstx"
ONSETS = "b d f g h k l m n p r s t v w z ch sh th st pl tr".split()


def letter_table():
    """Formants (Hz) and duration (s) of every letter, fixed (seed 0) so every corpus speaks alike."""
    rng = np.random.RandomState(0)
    table = {}
    for c in "abcdefghijklmnopqrstuvwxyz":
        if c in VOWELS:
            formants, dur = (rng.uniform(300, 850), rng.uniform(900, 2400), rng.uniform(2500, 3300)), 0.085
        elif c in VOICED:
            formants, dur = (rng.uniform(200, 500), rng.uniform(900, 1800), rng.uniform(2300, 3000)), 0.060
        else:  # noise band centre and width
            formants, dur = (rng.uniform(1800, 6500), rng.uniform(400, 1500), 0.0), 0.065
        table[c] = (formants, dur)
    return table


TABLE = letter_table()


def speaker_style(speaker):
    """(base pitch Hz, tempo factor) of a speaker: speaker 0 is LJSpeech-like (one female reader)."""
    return [(190.0, 1.0), (120.0, 1.15), (150.0, 0.9), (230.0, 1.05)][speaker % 4]


def voiced(f0, formants, amp, n):
    """n samples of harmonics of the pitch contour f0 [n], weighted by three formant peaks."""
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    mean_f0 = float(f0.mean())
    k = np.arange(1, int(7000 // mean_f0) + 1)
    env = sum(np.exp(-0.5 * ((k * mean_f0 - f) / 90.0) ** 2) * w for f, w in zip(formants, (1.0, 0.6, 0.3)))
    env = env + 0.02
    return amp * (env[:, None] * np.sin(k[:, None] * phase[None, :])).sum(0) / np.sqrt(len(k))


def noise(rng, centre, width, n, noise_rng=None):
    """n samples of Gaussian noise in a band; drawn from noise_rng when given (rng still advances alike)."""
    white = rng.randn(n)
    spectrum = np.fft.rfft(white if noise_rng is None else noise_rng.randn(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spectrum *= np.exp(-0.5 * ((freqs - centre) / width) ** 2)
    return 0.35 * np.fft.irfft(spectrum, n) / max(np.abs(np.fft.irfft(spectrum, n)).max(), 1e-6)


def speak(text, speaker, rng, noise_rng=None):
    """The waveform (float32) of normalised text; noise_rng redraws only the unvoiced noise (vocoder_floor.py)."""
    base, tempo = speaker_style(speaker)
    base *= np.exp(rng.uniform(-0.04, 0.04))
    tempo *= np.exp(rng.uniform(-0.05, 0.05))
    pieces, n_chars = [], max(len(text), 1)
    question = text.rstrip().endswith("?")
    for i, c in enumerate(text):
        pos = i / n_chars
        if c == " ":
            pieces.append(np.zeros(int(0.035 * tempo * SAMPLE_RATE)))
            continue
        if c not in TABLE:  # punctuation
            pieces.append(np.zeros(int(0.09 * tempo * SAMPLE_RATE)))
            continue
        formants, dur = TABLE[c]
        n = int(dur * tempo * SAMPLE_RATE)
        contour = 1.1 - 0.2 * pos + (0.35 * max(0.0, pos - 0.7) / 0.3 if question else 0.0)
        f0 = base * contour * np.linspace(1.0, 1.0 - 0.2 / n_chars, n)
        if c in VOWELS:
            unit = voiced(f0, formants, 1.0, n)
        elif c in VOICED:
            unit = voiced(f0, formants, 0.45, n)
        else:
            unit = noise(rng, formants[0], formants[1], n, noise_rng)
        ramp = min(n // 4, int(0.006 * SAMPLE_RATE))
        fade = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, ramp))
        unit[:ramp] *= fade
        unit[-ramp:] *= fade[::-1]
        pieces.append(unit)
    wav = np.concatenate([np.zeros(int(0.05 * SAMPLE_RATE))] + pieces + [np.zeros(int(0.08 * SAMPLE_RATE))])
    return (0.5 * wav / max(np.abs(wav).max(), 1e-6)).astype(np.float32)


def make_words(rng, count):
    words = set()
    while len(words) < count:
        syllables = rng.randint(1, 3)
        words.add("".join(ONSETS[rng.randint(len(ONSETS))] + VOWELS[rng.randint(5)] for _ in range(syllables)))
    return sorted(words)


def make_sentences(rng, count):
    """[(raw, normalised)]: 2-4 words, a capital, sometimes a digit (spelled out in the normalised
    column, as LJSpeech does), ending with . ? or !"""
    words, digits = make_words(rng, 80), "zero one two three four five six seven eight nine".split()
    out, seen = [], set()
    while len(out) < count:
        chosen = [words[rng.randint(len(words))] for _ in range(rng.randint(2, 5))]
        raw_words = list(chosen)
        if rng.rand() < 0.1:
            d = rng.randint(10)
            raw_words.append(str(d))
            chosen.append(digits[d])
        end = ".?!"[rng.choice(3, p=[0.6, 0.25, 0.15])]
        norm = " ".join(chosen) + end
        if norm in seen:
            continue
        seen.add(norm)
        raw = " ".join(raw_words) + end
        out.append((raw[0].upper() + raw[1:], norm))
    return out


def corpus(num_sentences, num_speakers=1, seed=1, noise_rng=None):
    """(uid, raw text, normalised text, wav) of every utterance, in order."""
    rng = np.random.RandomState(seed)
    for n, (raw, norm) in enumerate(make_sentences(rng, num_sentences)):
        speaker = n % num_speakers
        yield f"LJ{speaker + 1:03d}-{n:04d}", raw, norm, speak(norm, speaker, rng, noise_rng)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where metadata.csv and wavs/ go")
    parser.add_argument("--num_sentences", type=int, default=400, help="utterances to write")
    parser.add_argument("--num_speakers", type=int, default=1,
                        help="speaking styles (pitch, tempo); 1: one reader, as LJSpeech")
    parser.add_argument("--seed", type=int, default=1, help="seed of the sentences and the jitter")
    args = parser.parse_args(argv)
    os.makedirs(os.path.join(args.out_dir, "wavs"), exist_ok=True)
    lines = []
    for uid, raw, norm, wav in corpus(args.num_sentences, args.num_speakers, args.seed):
        soundfile.write(os.path.join(args.out_dir, "wavs", uid + ".wav"), wav, SAMPLE_RATE, subtype="PCM_16")
        lines.append(f"{uid}|{raw}|{norm}\n")
    with open(os.path.join(args.out_dir, "metadata.csv"), "w", encoding="utf-8") as f:
        f.writelines(lines)
    print(f"wrote {len(lines)} utterances to {args.out_dir} (metadata.csv, wavs/)")


if __name__ == "__main__":
    main()
