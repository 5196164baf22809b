"""Classifications and terms: catalogs of codes with titles per language and hierarchy
(``catalog``), the bundled term dictionaries (``dictionary``), and code search for the picker.

Layer 2: may import ``core`` and ``text``.
"""
