"""The data every stage passes on and what every stage needs: documents, mentions and assignments
(``model``), code syntax and editions (``codes``), typed errors (``errors``), progress and cancel,
bundled-file locations, atomic writes, the network guard.

Layer 0: imports nothing else from the engine.
"""
