"""Export a trained run for Paddle Inference: OUTPUT_DIR/MODEL/inference/

    start.json/.pdiparams  (src [B, S], src_len [B], kn [B, K, T], kn_len [B, K]) -> log-probs of
                           the first word [B, V], hidden [B, H], encoder outputs [B, S, H], their
                           padding bias [B, S], the prior knowledge vector [B, H]
    step.json/.pdiparams   (token [B], hidden, encoder outputs, bias, knowledge) -> log-probs, hidden
    vocab.txt, infer_cfg.json, export_info.json (which checkpoint it came from)

The encoders, the prior knowledge selection and one decoder step are exported; the beam search runs
in numpy around them (decode.py), the same code that drives the dynamic graph, so the export replies
exactly as the checkpoint does (a test checks it). B, S, K and T are free.

    python export.py                     # the last run trained in output/, its best weights
    python export.py --checkpoint output/generative/latest.pdckpt
"""
import json
import os
import shutil

import utils  # first: it quiets paddle's import-time warnings
import paddle
from paddle.static import InputSpec

import eval as evaluation


class StartProgram(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, src, src_len, kn, kn_len):
        return self.model.start(src, src_len, kn, kn_len)


class StepProgram(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, token, hidden, enc_out, enc_bias, knowledge):
        return self.model.step(token, hidden, enc_out, enc_bias, knowledge)


def export(model, inference_dir):
    """Write start.* and step.* into inference_dir; returns it."""
    model.eval()
    H = model.hidden_size
    start = paddle.jit.to_static(StartProgram(model), full_graph=True, input_spec=[
        InputSpec([None, None], "int64", "src"), InputSpec([None], "int64", "src_len"),
        InputSpec([None, None, None], "int64", "kn"), InputSpec([None, None], "int64", "kn_len")])
    paddle.jit.save(start, os.path.join(inference_dir, "start"))
    step = paddle.jit.to_static(StepProgram(model), full_graph=True, input_spec=[
        InputSpec([None], "int64", "token"), InputSpec([None, H], "float32", "hidden"),
        InputSpec([None, None, H], "float32", "enc_out"), InputSpec([None, None], "float32", "enc_bias"),
        InputSpec([None, H], "float32", "knowledge")])
    paddle.jit.save(step, os.path.join(inference_dir, "step"))
    return inference_dir


class RankerProgram(paddle.nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids, segments, length):
        return self.model.score(ids, segments, length)


def export_ranker(args, model, checkpoint, run_dir):
    """--model retrieval: ranker.json maps (ids [N, L], segments [N, L], length [N]) to the
    probability that each candidate is the reply [N]; the candidate set and vocabulary go along."""
    model.eval()
    inference_dir = os.path.join(run_dir, "inference")
    program = paddle.jit.to_static(RankerProgram(model), full_graph=True, input_spec=[
        InputSpec([None, None], "int64", "ids"), InputSpec([None, None], "int64", "segments"),
        InputSpec([None], "int64", "length")])
    paddle.jit.save(program, os.path.join(inference_dir, "ranker"))
    for name in ("vocab.txt", "candidate_set.json"):
        shutil.copyfile(os.path.join(run_dir, name), os.path.join(inference_dir, name))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": "retrieval", "max_seq_len": args.max_seq_len, "num_candidates": args.num_candidates,
                   "programs": ["ranker"]}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported retrieval from {checkpoint} to {inference_dir}: ranker (candidate scores)", flush=True)
    return inference_dir


def build_parser():
    parser = evaluation.build_parser()
    parser.description = __doc__
    return parser


def main(argv=None):
    args = utils.load_run_config(utils.parse_args(build_parser(), argv))
    paddle.set_device("cpu")
    run_dir = os.path.join(args.output_dir, args.model)
    model, vocab, checkpoint = evaluation.load_run_model(args, args.checkpoint)
    if args.model == "retrieval":
        return export_ranker(args, model, checkpoint, run_dir)
    inference_dir = export(model, os.path.join(run_dir, "inference"))
    shutil.copyfile(os.path.join(run_dir, "vocab.txt"), os.path.join(inference_dir, "vocab.txt"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "vocab_size": len(vocab), "hidden_size": args.hidden_size,
                   "max_src_len": args.max_src_len, "max_dec_len": args.max_dec_len,
                   "max_triple_len": args.max_triple_len, "programs": ["start", "step"]}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint} to {inference_dir}: "
          f"{os.path.basename(utils.inference_files(os.path.join(inference_dir, 'start'))[0])} (encoders, prior "
          f"knowledge, first step), {os.path.basename(utils.inference_files(os.path.join(inference_dir, 'step'))[0])} "
          "(one decoder step)", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
