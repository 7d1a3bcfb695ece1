"""Sample data: drawn people and products, and the shipped `datasets/sample/` dataset.

`python -m vton_eval.samples` regenerates `datasets/sample/`; `make_sample_dataset(dest)` builds a
fresh copy anywhere (tests, benchmarks). Nothing here imports gradio.
"""

from vton_eval.samples.dataset import PAIRS, make_sample_dataset
from vton_eval.samples.people import draw_person
from vton_eval.samples.products import KINDS, draw_product, inappropriate_product

__all__ = ["KINDS", "PAIRS", "draw_person", "draw_product", "inappropriate_product", "make_sample_dataset"]
