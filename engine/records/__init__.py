"""Review and records: review operations on results, the session and its SQLite database with
audit rows, settings, and exports.

Layer 5: may import every layer below (``core`` … ``linking``), never ``evaluation``.
"""
