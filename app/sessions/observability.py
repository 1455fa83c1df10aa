"""One-line JSON logs and CloudWatch Embedded Metric Format (EMF) records on stdout.

Lambda ships stdout lines to CloudWatch Logs as-is; lines that are EMF documents become metrics
without any PutMetricData call, so alarms cost no extra API traffic.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

NAMESPACE = "AIPlatform/Sessions"
METRIC_NAMES = ("SessionStarted", "SessionFailed", "SpotInterruption", "SessionReaped")


def _write(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log(level: str, event: str, **fields: Any) -> None:
    _write({"level": level, "event": event, "time": round(time.time(), 3), **fields})


def metric(name: str, cluster_name: str, value: int = 1, **properties: Any) -> None:
    """Emit one Count datapoint of `name` with dimension ClusterName (alarms select on it)."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}")
    _write(
        {
            **properties,
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [["ClusterName"]],
                        "Metrics": [{"Name": name, "Unit": "Count"}],
                    }
                ],
            },
            "ClusterName": cluster_name,
            name: value,
            "event": "metric",
        }
    )
