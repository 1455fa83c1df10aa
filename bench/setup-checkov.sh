#!/usr/bin/env bash
# checkov pins boto3/botocore/policy-sentry versions that clash with the project's, so the
# policy benchmark's comparison runs it from a venv of its own.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv-checkov
.venv-checkov/bin/pip install -q checkov==3.3.30
.venv-checkov/bin/checkov --version
