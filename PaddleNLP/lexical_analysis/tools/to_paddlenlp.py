"""Writes a run of this folder in the layout of PaddleNLP's Taskflow LAC directory: model_state.pdparams
under PaddleNLP's names, with the run's word.dic, tag.dic and q2b.dic beside it. pretrained.py's
converter, run backwards. The real Taskflow checkpoint cannot be downloaded here, so this file is
the demo's stand-in for it: `eval.py --pretrained DIR` and `train.py --pretrained DIR` read it as they
would read Taskflow's.

    python tools/to_paddlenlp.py --out output/taskflow_lac         # the last run in output/, best.pdparams

The run's N tags become PaddleNLP's N + 2 (stop = N, start = N + 1). Its own start/stop scores go into
rows N + 1 and N of the (N+2)x(N+2) transition matrix, where PaddleNLP's decoder reads them. Every
score into one of the two extra tags is set to NEVER (-1e4), and so is the Linear bias of their emissions
(with zero weights). So no path through them can win, and the decode is the run's own, tag for tag.
"""
import argparse
import os
import shutil
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import paddle  # noqa: E402

import utils  # noqa: E402
import pretrained  # noqa: E402
from eval import (add_model_flags, add_run_flags, build_run_model, default_checkpoint,  # noqa: E402
                  resolve_run, run_vocab)

NEVER = -1e4


def to_paddlenlp(state, num_tags):
    """Our (untied) state dict, numpy -> PaddleNLP's BiGruCrf state dict (numpy)."""
    n, m = num_tags, num_tags + 2
    trans = np.full([m, m], NEVER, dtype="float32")
    trans[:n, :n] = state["crf.transitions"]
    trans[n + 1, :n] = state["crf.start"]  # start_idx = n + 1: the last row
    trans[n, :n] = state["crf.stop"]       # stop_idx = n: the second-to-last row
    weight = np.zeros([state["encoder.emission.weight"].shape[0], m], dtype="float32")
    weight[:, :n] = state["encoder.emission.weight"]
    bias = np.full([m], NEVER, dtype="float32")
    bias[:n] = state["encoder.emission.bias"]
    out = {"word_embedding.weight": state["encoder.embedding.weight"], "fc.weight": weight, "fc.bias": bias,
           "crf.transitions": trans}
    for alias in pretrained.ALIASES:  # PaddleNLP stores the same matrix under the loss and the decoder too
        out[alias] = trans
    for key, value in state.items():
        if key.startswith("encoder.gru."):
            out["gru." + key[len("encoder.gru."):]] = value
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    add_run_flags(parser)
    add_model_flags(parser)
    parser.add_argument("--out", default="output/taskflow_lac", help="the directory to write")
    args = resolve_run(utils.parse_args(parser, argv))
    if args.tied_start_stop:
        raise utils.CheckpointError("this run was fine-tuned from PaddleNLP's checkpoint and is already in its layout")
    vocab = run_vocab(args)
    model = build_run_model(args, vocab)
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    os.makedirs(args.out, exist_ok=True)
    paddle.save({k: paddle.to_tensor(v) for k, v in to_paddlenlp(state, vocab.num_tags).items()},
                os.path.join(args.out, "model_state.pdparams"))
    for name in pretrained.FILES:
        shutil.copy(os.path.join(args.dict_dir or args.data_dir, name), os.path.join(args.out, name))
    print(f"wrote {checkpoint} in PaddleNLP's Taskflow LAC layout to {args.out}/ (model_state.pdparams, "
          f"{', '.join(pretrained.FILES)})", flush=True)


if __name__ == "__main__":
    utils.run_main(main)
