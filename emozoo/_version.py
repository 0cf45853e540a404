"""The package version, importable without the lazy public API of ``emozoo/__init__.py`` (and its imports)."""

__version__ = "0.1.0"
