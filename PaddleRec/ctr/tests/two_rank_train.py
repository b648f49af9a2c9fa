"""Helper for tests/test_train.py: train.py under paddle.distributed.launch, each rank then saving
its own parameters so that the test can compare them."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import utils  # noqa: E402
import paddle  # noqa: E402

import train  # noqa: E402


def main():
    model = train.main(sys.argv[1:])
    out = sys.argv[sys.argv.index("--output_dir") + 1]
    paddle.save(model.state_dict(), os.path.join(out, f"rank{utils.rank()}.pdparams"))


if __name__ == "__main__":
    utils.run_main(main)
