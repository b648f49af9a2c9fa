"""Export a trained run for Paddle Inference, in OUTPUT_DIR/MODEL/inference/:

    start.json + start.pdiparams   src ids [B, S] -> log-probs of the first target token [B, V],
                                   self-attention cache keys, values [L, B, H, 1, d_head],
                                   encoder keys, values of every decoder layer [L, B, H, S, d_head],
                                   source bias [B, 1, 1, S]
    step.json + step.pdiparams     token [N], the caches and the source bias -> log-probs [N, V] and
                                   the self-attention cache one position longer
    vocab.txt (and spm.model), infer_cfg.json, export_info.json (which checkpoint it came from)

That is, the export holds the encoder and the cached decoder step; the search loop (beam search
with the length penalty, or greedy) runs in Python around them (decode.py), the same code that
drives the dynamic graph, so the export translates exactly as the checkpoint does (a test checks it).
B, N, S and the cache length are free.

    python export.py                     # the last run trained in output/, its best weights
    python export.py --model base --checkpoint output/base/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils  # first: it quiets paddle's import-time warnings
import paddle
from paddle.static import InputSpec

import reader
from eval import default_checkpoint
from model import MODELS, build_model


class StartProgram(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, src):
        return self.model.start(src)


class StepProgram(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, token, self_k, self_v, cross_k, cross_v, src_bias):
        return self.model.step(token, self_k, self_v, cross_k, cross_v, src_bias)


def export(model, inference_dir):
    """Write start.* and step.* into inference_dir; returns it."""
    model.eval()
    layers, heads, d_head = model.n_layer, model.n_head, model.d_head
    cache = [layers, None, heads, None, d_head]
    start = paddle.jit.to_static(StartProgram(model), input_spec=[InputSpec([None, None], "int64", "src")],
                                 full_graph=True)
    paddle.jit.save(start, os.path.join(inference_dir, "start"))
    step = paddle.jit.to_static(StepProgram(model), full_graph=True, input_spec=[
        InputSpec([None], "int64", "token"), InputSpec(cache, "float32", "self_k"), InputSpec(cache, "float32", "self_v"),
        InputSpec(cache, "float32", "cross_k"), InputSpec(cache, "float32", "cross_v"),
        InputSpec([None, 1, 1, None], "float32", "src_bias")])
    paddle.jit.save(step, os.path.join(inference_dir, "step"))
    return inference_dir


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"run to export ({', '.join(MODELS)}; None: the last run trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where train.py wrote the run")
    parser.add_argument("--checkpoint", default=None,
                        help="None: OUTPUT_DIR/MODEL/best.pdparams (best on dev), else latest.pdckpt")
    parser.add_argument("--max_length", type=int, default=256, help="the run's position table (from the run)")
    parser.add_argument("--trg_lang", default="de", help="target language (from the run)")
    return parser


def main(argv=None):
    args = utils.load_run_config(utils.parse_args(build_parser(), argv))
    paddle.set_device("cpu")
    run_dir = os.path.join(args.output_dir, args.model)
    tokenizer = reader.run_tokenizer(run_dir, args.trg_lang)
    vocab = tokenizer.vocab
    model = build_model(args.model, len(vocab), vocab.bos_id, vocab.eos_id, max_length=args.max_length)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = export(model, os.path.join(run_dir, "inference"))
    for name in ("vocab.txt", "spm.model"):
        if os.path.isfile(os.path.join(run_dir, name)):
            shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
        elif os.path.isfile(os.path.join(inference_dir, name)):
            os.remove(os.path.join(inference_dir, name))  # an older export's
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "vocab_size": len(vocab), "bos_id": vocab.bos_id, "eos_id": vocab.eos_id,
                   "max_length": args.max_length, "trg_lang": args.trg_lang, "programs": ["start", "step"]}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {inference_dir}: "
          f"{os.path.basename(utils.inference_files(os.path.join(inference_dir, 'start'))[0])} (encoder + first step), "
          f"{os.path.basename(utils.inference_files(os.path.join(inference_dir, 'step'))[0])} (cached decoder step)",
          flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
