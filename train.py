#!/usr/bin/env python
"""Thin entry point: ``python train.py [configs/experiment/X.yaml] [key=value ...]``.

With no arguments it runs the embedded default: SynthFace shards -> pre-train (Big-like) -> fine-tune
(Binary-like) -> evaluate (HQ-like) -> checkpoint + report. All logic lives in ``emozoo``.
"""

import sys

from emozoo.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
