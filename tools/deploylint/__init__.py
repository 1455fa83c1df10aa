"""Deploy lint: a stack export's resource inputs against AWS's own service models (botocore) and the
deploy-time constraints those models do not encode. ``python -m tools.deploylint EXPORT``."""

__all__ = ["Coverage", "Finding", "InputError", "Report", "lint"]


def __getattr__(name: str):
    # Lazy: components/config.py reads model limits from tools.deploylint.shapes, and the lint itself
    # imports components/config.py (its known-constraints table), so the package must not import it eagerly.
    if name in __all__:
        import importlib

        return getattr(importlib.import_module("tools.deploylint.core"), name)
    raise AttributeError(name)
