"""Synthesise a small speech-like corpus, offline and seeded, as a Kaldi data directory with frame
alignments, then its global CMVN statistics.

    python make_demo_data.py --out_dir data/demo            # 800 train, 100 dev, 100 test utterances

The "language": 16 words made of 11 phones (vowels a e i o u: a pitched buzz through the vowel's
formants; m n l: soft voiced murmurs; s: hiss; k t: a closure and a burst). Every phone has 3 states
(its first, middle and last third) and silence one: 34 output classes. Sentences of 2 to 4 words are
read with pauses, by speakers that differ in pitch (90-240 Hz) and vocal tract (formants x0.88-1.15),
at speeds 0.8-1.25x, with noise at 15-35 dB SNR. The alignment comes from the synthesis itself: the
state being spoken at the centre of every 25 ms feature frame (10 ms apart). dev and test have their
own speakers and sentences that training never saw, so the transcript can only come from the audio.

Written (16 kHz mono WAV):
    OUT_DIR/wav/<split>/<utt>.wav
    OUT_DIR/{train,dev,test}/wav.scp, text, utt2spk, ali.txt
    OUT_DIR/states.txt, lexicon.txt, global_cmvn.npz
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
PHONES = sorted(VOWELS) + sorted(VOICED) + sorted(NOISE)
STATES_PER_PHONE = 3


def state_table():
    """[(phone, position)] by state id: silence is state 0, then 3 states per phone."""
    return [("sil", 0)] + [(p, k) for p in PHONES for k in range(STATES_PER_PHONE)]


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


def phone_sound(phone, speaker, f0, speed, rng):
    if phone in VOWELS:
        n = int(RATE * rng.uniform(0.09, 0.12) / speed)
        sound = harmonic_sound(n, f0, [f * speaker["scale"] for f in VOWELS[phone]], rng)
    elif phone in VOICED:
        n = int(RATE * rng.uniform(0.07, 0.09) / speed)
        sound = 0.4 * harmonic_sound(n, f0, [f * speaker["scale"] for f in VOICED[phone]], rng, 60.0)
    else:
        lo, hi, closure = NOISE[phone]
        n = int(RATE * rng.uniform(0.06, 0.08) / speed)
        burst = noise_sound(n, (lo * speaker["scale"], min(hi * speaker["scale"], 7900)), rng)
        if closure:  # a stop: silence, then a decaying burst
            c = int(RATE * closure / speed)
            burst[:c] = 0
            burst[c:] *= np.exp(-np.arange(n - c) / (0.02 * RATE))
        sound = 0.5 * burst
    return ramp(sound / (np.abs(sound).max() + 1e-9))


def speak(sentence, speaker, rng):
    """(samples, [(phone, first sample, end sample)]) of a sentence read by a speaker; pauses are `sil`."""
    speed = rng.uniform(0.8, 1.25)
    f0 = speaker["f0"] * rng.uniform(0.92, 1.08)
    parts, spans, at = [], [], 0

    def add(phone, samples):
        nonlocal at
        parts.append(samples)
        spans.append((phone, at, at + len(samples)))
        at += len(samples)

    add("sil", np.zeros(int(RATE * rng.uniform(0.05, 0.15))))
    for w, word in enumerate(sentence.split()):
        if w:
            add("sil", np.zeros(int(RATE * rng.uniform(0.07, 0.16) / speed)))
        for phone in word:
            add(phone, phone_sound(phone, speaker, f0, speed, rng))
        f0 *= rng.uniform(0.96, 1.0)  # declination over the sentence
    add("sil", np.zeros(int(RATE * rng.uniform(0.05, 0.15))))
    audio = np.concatenate(parts)
    snr = rng.uniform(15, 35)
    noise = rng.standard_normal(len(audio)) * np.sqrt(np.mean(audio ** 2) / 10 ** (snr / 10))
    audio = (audio + noise) * rng.uniform(0.2, 0.6) / (np.abs(audio).max() + 1e-9)
    return np.clip(audio, -1, 1).astype(np.float32), spans


def frame_states(spans, num_samples):
    """The state at the centre of every feature frame (25 ms windows every 10 ms, Kaldi's frame count):
    a phone's first, middle or last third."""
    import reader
    index = {s: i for i, s in enumerate(state_table())}
    centres = np.arange(reader.frames_of(num_samples)) * reader.HOP + reader.WINDOW // 2
    out = []
    for c in centres:
        phone, first, end = next((s for s in spans if s[1] <= c < s[2]), spans[-1])
        if phone == "sil":
            out.append(index["sil", 0])
        else:
            third = min(STATES_PER_PHONE - 1, STATES_PER_PHONE * (c - first) // max(end - first, 1))
            out.append(index[phone, third])
    return out


def sentences(rng, count, exclude=()):
    out, seen = [], set(exclude)
    while len(out) < count:
        s = " ".join(rng.choice(WORDS, rng.integers(2, 5)))
        if s not in seen or len(seen) > 20000:
            seen.add(s)
            out.append(s)
    return out


def write_split(out_dir, split, texts, speakers, rng, first_speaker):
    """Kaldi tables sorted by utterance id (speaker-prefixed ids, as Kaldi wants), WAV files, alignments."""
    import soundfile
    os.makedirs(os.path.join(out_dir, split), exist_ok=True)
    os.makedirs(os.path.join(out_dir, "wav", split), exist_ok=True)
    per_speaker = -(-len(texts) // len(speakers))
    rows = []
    for s, speaker in enumerate(speakers):
        spk = f"spk{first_speaker + s}"
        for u, text in enumerate(texts[s * per_speaker:(s + 1) * per_speaker]):
            utt = f"{spk}-{u:04d}"
            audio, spans = speak(text, speaker, rng)
            path = os.path.join("wav", split, utt + ".wav")
            soundfile.write(os.path.join(out_dir, path), audio, RATE, subtype="PCM_16")
            rows.append((utt, spk, path, text, frame_states(spans, len(audio))))
    rows.sort()
    tables = {"wav.scp": [f"{r[0]} {r[2]}" for r in rows], "text": [f"{r[0]} {r[3]}" for r in rows],
              "utt2spk": [f"{r[0]} {r[1]}" for r in rows],
              "ali.txt": [f"{r[0]} " + " ".join(map(str, r[4])) for r in rows]}
    for name, lines in tables.items():
        with open(os.path.join(out_dir, split, name), "w") as f:
            f.write("".join(line + "\n" for line in lines))


def make_speakers(rng, n):
    return [{"f0": rng.uniform(90, 240), "scale": rng.uniform(0.88, 1.15)} for _ in range(n)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--out_dir", default="data/demo", help="where to write")
    parser.add_argument("--num_train", type=int, default=800, help="training utterances")
    parser.add_argument("--num_eval", type=int, default=100, help="dev and test utterances each")
    parser.add_argument("--num_speakers", type=int, default=12, help="training speakers (dev/test: a third each)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    import compute_cmvn

    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "states.txt"), "w") as f:
        f.write("".join(f"{i} {p} {k}\n" for i, (p, k) in enumerate(state_table())))
    with open(os.path.join(args.out_dir, "lexicon.txt"), "w") as f:
        f.write("".join(f"{w} {' '.join(w)}\n" for w in sorted(WORDS)))
    train_texts = sentences(rng, args.num_train)
    eval_speakers = max(1, args.num_speakers // 3)
    write_split(args.out_dir, "train", train_texts, make_speakers(rng, args.num_speakers), rng, 1000)
    for i, split in enumerate(("dev", "test")):
        texts = sentences(rng, args.num_eval, exclude=train_texts)
        write_split(args.out_dir, split, texts, make_speakers(rng, eval_speakers), rng, 2000 + 500 * i)
    mean, std, n = compute_cmvn.compute_cmvn(args.out_dir)
    np.savez(os.path.join(args.out_dir, "global_cmvn.npz"), mean=mean, std=std)
    print(f"wrote {args.num_train}/{args.num_eval}/{args.num_eval} utterances (16 kHz WAV, Kaldi data directories "
          f"with ali.txt), states.txt ({len(state_table())} states), lexicon.txt ({len(WORDS)} words) and "
          f"global_cmvn.npz to {args.out_dir}")


if __name__ == "__main__":
    utils.run_main(main)
