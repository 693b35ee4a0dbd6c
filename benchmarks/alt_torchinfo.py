"""The alternative to ``netspec summary``: build the model by hand, run ``torchinfo.summary``.

    python benchmarks/alt_torchinfo.py vgg16 3x224x224 [--device cpu|meta]

What a user without netspec writes: plain PyTorch modules (``models.py``), then torchinfo's
summary of one sample. On the CPU (torchinfo's default) the weights are allocated and
initialised and the forward pass computes real activations.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
import torchinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models

BUILDERS = {"vgg16": models.vgg16, "resnet50": models.ResNet50, "billion": models.billion}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", choices=sorted(BUILDERS))
    parser.add_argument("input", help="one sample, such as 3x224x224")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    shape = tuple(int(size) for size in args.input.split("x"))
    with torch.device(args.device):
        model = BUILDERS[args.model]()
    stats = torchinfo.summary(model, (1, *shape), device=args.device, verbose=0)
    print(stats)


if __name__ == "__main__":
    main()
