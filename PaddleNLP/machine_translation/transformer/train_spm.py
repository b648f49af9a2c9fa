"""Train the shared sentencepiece model for raw parallel text (the --spm_model layout of reader.py):
one BPE model over both languages' training text, with the ids train.py expects (<s>=0, <e>=1, <unk>=2).

    python train_spm.py --data_dir raw_text --vocab_size 32000     # writes raw_text/spm.model
    python train.py --data_dir raw_text --spm_model raw_text/spm.model
"""
import argparse
import os

import reader


def train_spm(data_dir, vocab_size, src_lang="en", trg_lang="de", prefix=None, sample=2000000):
    import sentencepiece
    files = [os.path.join(data_dir, f"{reader.RAW_FILES['train']}.{lang}") for lang in (src_lang, trg_lang)]
    for path in files:
        if not os.path.isfile(path):
            raise SystemExit(f"error: {path}: file not found")
    prefix = prefix or os.path.join(data_dir, "spm")
    sentencepiece.SentencePieceTrainer.train(
        input=",".join(files), model_prefix=prefix, vocab_size=vocab_size, model_type="bpe", character_coverage=1.0,
        bos_id=0, eos_id=1, unk_id=2, pad_id=-1, bos_piece=reader.BOS, eos_piece=reader.EOS, unk_piece=reader.UNK,
        input_sentence_size=sample, shuffle_input_sentence=True, minloglevel=2)
    print(f"wrote {prefix}.model ({vocab_size} pieces, shared by {src_lang} and {trg_lang})", flush=True)
    return prefix + ".model"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", required=True, help="holds train.SRC and train.TRG")
    parser.add_argument("--vocab_size", type=int, default=32000, help="pieces in the model (default: %(default)s)")
    parser.add_argument("--src_lang", default="en", help="source suffix (default: %(default)s)")
    parser.add_argument("--trg_lang", default="de", help="target suffix (default: %(default)s)")
    parser.add_argument("--model_prefix", default=None, help="output prefix (default: DATA_DIR/spm)")
    args = parser.parse_args(argv)
    return train_spm(args.data_dir, args.vocab_size, args.src_lang, args.trg_lang, args.model_prefix)


if __name__ == "__main__":
    main()
