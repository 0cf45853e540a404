"""The EmoNet-Face release: converters from the published tables to shards, and the annotation-table reader.

``convert`` turns the parquet / CSV releases into WebDataset shards (``read``, ``scan``, ``columns``, ``labels``,
``stats``), reading image files only below the image root (``confine``) and only images that decode (``verify``);
``annotations`` reads a per-rater table such as ``binary.csv`` for ``emozoo agreement``.
"""
