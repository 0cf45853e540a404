"""SynthFace: the embedded procedural benchmark that ``make demo`` trains and evaluates on.

Faces are drawn from a hidden 40-emotion intensity vector (``latent``) through facial action parameters
(``actions``), rendered with PIL (``render``, ``parts``, ``marks``), and labelled by simulated annotators under the
paper's three protocols (``raters``). ``generate`` writes the shard sets and their ``manifest.json``.
"""
