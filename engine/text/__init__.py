"""Text in: reading files in any encoding (``readers``), folding with offset maps (``normalize``),
language detection, negation cues, and annotated corpora in their formats (``annotations``:
CodiEsp, brat, JSONL, ``*marked*`` text), which give mentions instead of detecting them.

Layer 1: may import ``core``.
"""
