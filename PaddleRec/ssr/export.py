"""Export a trained run to Paddle Inference: both towers, in OUTPUT_DIR/MODEL/inference/.

- user_tower.json (.pdmodel on older Paddle builds) + .pdiparams: items [B, T] int64 (padded),
  lengths [B] int64 -> unit user vectors [B, H];
- item_tower.json + .pdiparams: item ids [N] int64 -> unit item vectors [N, H];
- infer_cfg.json (vocabulary size, sequence cap), export_info.json (the checkpoint it came from) and,
  when the data has it, item_ids.txt (the raw RSC15 id of each item number).

A serving system runs the item tower once over the catalogue (or over new items as they come: the
item vector depends on the item alone) into a vector index, and the user tower per request; the score
is the dot product of the unit vectors (the cosine). infer.py does exactly that.

    python export.py                     # the last run trained in output/, from its best.pdparams
    python export.py --model ssr_bow --checkpoint output/ssr_bow/latest.pdckpt
"""
import argparse
import json
import os
import shutil

import utils
import paddle
import paddle.nn as nn

import reader
from eval import default_checkpoint, model_kwargs
from models import MODELS, build_model


class UserTower(nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, items, lengths):
        return self.model.user_vector(items, lengths)


class ItemTower(nn.Layer):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, ids):
        return self.model.item_vector(ids)


def export(model, inference_dir):
    """Write both towers; returns their path prefixes (user, item)."""
    model.eval()
    user = os.path.join(inference_dir, "user_tower")
    item = os.path.join(inference_dir, "item_tower")
    paddle.jit.save(paddle.jit.to_static(UserTower(model), full_graph=True, input_spec=[
        paddle.static.InputSpec([None, None], "int64", name="items"),
        paddle.static.InputSpec([None], "int64", name="lengths")]), user)
    paddle.jit.save(paddle.jit.to_static(ItemTower(model), full_graph=True, input_spec=[
        paddle.static.InputSpec([None], "int64", name="ids")]), item)
    return user, item


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=utils.HelpFormatter)
    parser.add_argument("--model", default=None, choices=sorted(MODELS), metavar="NAME",
                        help=f"the run to export: {', '.join(sorted(MODELS))} (default %(default)s: the last one "
                             "trained in OUTPUT_DIR)")
    parser.add_argument("--output_dir", default="output", help="where the run was trained")
    parser.add_argument("--data_dir", default="data/demo",
                        help="its vocab.txt gives the vocabulary size (default: the run's own, else %(default)s)")
    parser.add_argument("--emb_dim", type=int, default=128, help="embedding size (default: the run's own)")
    parser.add_argument("--hidden", type=int, default=128, help="hidden size (default: the run's own)")
    parser.add_argument("--max_len", type=int, default=0, help="sequence cap infer.py applies (default: the run's own)")
    parser.add_argument("--checkpoint", default=None, help="weights to use (default %(default)s: OUTPUT_DIR/MODEL/best.pdparams)")
    args = utils.load_run_config(utils.parse_args(parser, argv))
    paddle.set_device("cpu")

    vocab_size = reader.read_vocab(args.data_dir)
    model = build_model(args.model, vocab_size, **model_kwargs(args))
    checkpoint = args.checkpoint or default_checkpoint(args.output_dir, args.model)
    utils.load_model(model, checkpoint)
    inference_dir = os.path.join(args.output_dir, args.model, "inference")
    user, _ = export(model, inference_dir)
    item_ids = os.path.join(args.data_dir, "item_ids.txt")  # written by convert_rsc15.py: raw id of each number
    if os.path.isfile(item_ids):
        shutil.copy(item_ids, os.path.join(inference_dir, "item_ids.txt"))
    with open(os.path.join(inference_dir, "infer_cfg.json"), "w") as f:
        json.dump({"model": args.model, "vocab_size": vocab_size, "max_len": args.max_len}, f, indent=1)
    utils.save_export_info(inference_dir, checkpoint, args)
    print(f"exported {args.model} from {checkpoint}: user tower {utils.inference_files(user)[0]}, item tower "
          f"beside it", flush=True)
    return inference_dir


if __name__ == "__main__":
    utils.run_main(main)
