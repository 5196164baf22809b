"""Evaluation: coding gold documents through the real pipeline and scoring the result
(the paper's metrics and CodiEsp's).

Layer 6: may import every layer below.
"""
