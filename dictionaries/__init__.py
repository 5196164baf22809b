"""Reproducible build of the ICD-10 catalogs and term dictionaries the app ships."""
