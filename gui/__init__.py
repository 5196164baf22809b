"""PySide6 review window: a thin shell over ``engine`` (arrives with issue 4)."""
