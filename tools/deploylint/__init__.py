"""Deploy lint: a stack export's resource inputs against AWS's own service models (botocore) and the
deploy-time constraints those models do not encode. ``python -m tools.deploylint EXPORT``."""

from tools.deploylint.lint import Coverage, Finding, InputError, Report, lint

__all__ = ["Coverage", "Finding", "InputError", "Report", "lint"]
