"""Export a trained run for Paddle Inference, in OUTPUT_DIR/MODEL/inference/:

    start.json + start.pdiparams   src ids [B, S], src_len [B] -> log-probs of the first target word
                                   [B, V] and the decoder state: h, c [L, B, H] (attention: also the
                                   fed-back output [B, H], projected encoder outputs [B, S, H] and the
                                   padding bias [B, S])
    step.json + step.pdiparams     the previous token [N] and the state -> log-probs [N, V] and the
                                   state's changing part (h, c, and the fed-back output)
    vocab.src.txt vocab.trg.txt, infer_cfg.json, export_info.json (which checkpoint it came from)

That is, the export holds the encoder (its loop over the source runs inside `start`) and one
decoder step; the search loop (beam search or greedy) runs in Python around them (decode.py), the
same code that drives the dynamic graph, so the export translates exactly as the checkpoint does (a
test checks it). B, N and S are free.

    python export.py                     # the last run trained in output/, its best weights
    python export.py --model seq2seq --checkpoint output/seq2seq/latest.pdckpt
"""
import json
import os
import shutil

import utils  # first: it quiets paddle's import-time warnings
import paddle
from paddle.static import InputSpec

import eval as evaluation
import vae


class StartProgram(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, src, src_len):
        return self.model.start(src, src_len)


class StepProgram(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, token, h, c, feed=None, memory=None, bias=None):
        if self.model.attention:
            return self.model.step(token, h, c, feed, memory, bias)
        return self.model.step(token, h, c)


def export(model, inference_dir):
    """Write start.* and step.* into inference_dir; returns it."""
    model.eval()
    layers, hidden = model.num_layers, model.hidden_size
    start = paddle.jit.to_static(StartProgram(model), full_graph=True, input_spec=[
        InputSpec([None, None], "int64", "src"), InputSpec([None], "int64", "src_len")])
    paddle.jit.save(start, os.path.join(inference_dir, "start"))
    spec = [InputSpec([None], "int64", "token"), InputSpec([layers, None, hidden], "float32", "h"),
            InputSpec([layers, None, hidden], "float32", "c")]
    if model.attention:
        spec += [InputSpec([None, hidden], "float32", "feed"), InputSpec([None, None, hidden], "float32", "memory"),
                 InputSpec([None, None], "float32", "bias")]
    step = paddle.jit.to_static(StepProgram(model), full_graph=True, input_spec=spec)
    paddle.jit.save(step, os.path.join(inference_dir, "step"))
    return inference_dir


def build_parser():
    parser = evaluation.build_parser()
    parser.description = __doc__
    return parser


def main(argv=None):
    args = utils.load_run_config(utils.parse_args(build_parser(), argv))
    paddle.set_device("cpu")
    run_dir = os.path.join(args.output_dir, args.model)
    model, src_vocab, trg_vocab, checkpoint = evaluation.load_run_model(args, args.checkpoint)
    if args.model == "vae":  # the decoder only: z -> first word, then one step (vae.py)
        inference_dir = vae.export(model, os.path.join(run_dir, "inference"))
        shutil.copyfile(os.path.join(run_dir, "vocab.trg.txt"), os.path.join(inference_dir, "vocab.trg.txt"))
        with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
            json.dump({"model": "vae", "vocab_size": len(trg_vocab), "latent_size": args.latent_size,
                       "programs": ["vae_start", "vae_step"]}, f, indent=1)
        utils.save_export_info(inference_dir, checkpoint, args)
        print(f"exported vae from {checkpoint} to {inference_dir}: vae_start (z -> first word), vae_step "
              "(one decoder step)", flush=True)
        return inference_dir
    inference_dir = export(model, os.path.join(run_dir, "inference"))
    for name in ("vocab.src.txt", "vocab.trg.txt"):
        shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "src_vocab_size": len(src_vocab), "trg_vocab_size": len(trg_vocab),
                   "hidden_size": args.hidden_size, "num_layers": args.num_layers, "max_len": args.max_len,
                   "programs": ["start", "step"]}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {inference_dir}: "
          f"{os.path.basename(utils.inference_files(os.path.join(inference_dir, 'start'))[0])} (encoder + first step), "
          f"{os.path.basename(utils.inference_files(os.path.join(inference_dir, 'step'))[0])} (one decoder step)",
          flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
