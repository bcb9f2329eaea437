"""Train the bundled toy reasoner into datafactory/assets/toy-reasoner/ and measure it for its model card.

    .venv/bin/python scripts/train_toy_reasoner.py [--steps 4400] [--batch 32] [--seed 0] [--out datafactory/assets/toy-reasoner]

Fixed seed, synthetic data made by datafactory.toy.data, about 11 minutes on 2 CPU cores. The committed weights
are this script's output; the model card's figures come from `datafactory.toy.evaluate` run right after.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from datafactory.toy.evaluate import evaluate_and_write_card
from datafactory.toy.train import train_toy_reasoner

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "datafactory" / "assets" / "toy-reasoner"

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=4400)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--skip-eval", action="store_true", help="train only; leave the model card as it is")
    args = parser.parse_args()
    path = train_toy_reasoner(args.out, steps=args.steps, batch=args.batch, seed=args.seed)
    if not args.skip_eval:
        evaluate_and_write_card(path, steps=args.steps, seed=args.seed, batch=args.batch)
