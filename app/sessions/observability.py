"""One-line JSON logs and CloudWatch Embedded Metric Format (EMF) records on stdout.

Lambda ships stdout lines to CloudWatch Logs as-is; lines that are EMF documents become metrics
without any PutMetricData call, so alarms cost no extra API traffic.

Metric contract (components/observability.py alarms and charts exactly these; an EMF metric exists
only under the dimension sets it was emitted with):
- counters (Unit Count, one datapoint per event): SessionStarted, SessionFailed, SpotInterruption,
  SessionReaped, each under [ClusterName]; SessionStarted also under [ClusterName, CapacityProvider]
  so Spot and on-demand starts can be told apart.
- gauge: ActiveSessions, the PROVISIONING + RUNNING sessions the reaper saw, once per reaper run,
  under [ClusterName].
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

NAMESPACE = "AIPlatform/Sessions"
COUNTERS = ("SessionStarted", "SessionFailed", "SpotInterruption", "SessionReaped")
GAUGES = ("ActiveSessions",)
METRIC_NAMES = COUNTERS + GAUGES
CLUSTER_DIMENSION = "ClusterName"
PROVIDER_DIMENSION = "CapacityProvider"
# Only SessionStarted is split by capacity provider: the share of Spot starts is what the dashboard
# charts, and every extra dimension set is another billed custom metric per value.
BY_PROVIDER = ("SessionStarted",)


def _write(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def log(level: str, event: str, **fields: Any) -> None:
    _write({"level": level, "event": event, "time": round(time.time(), 3), **fields})


def metric(name: str, cluster_name: str, value: int = 1, *, capacity_provider: str | None = None,
           **properties: Any) -> None:
    """Emit one datapoint of `name` under [ClusterName] (alarms select on it) and, for metrics in
    BY_PROVIDER, also under [ClusterName, CapacityProvider]."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}")
    if (capacity_provider is not None) != (name in BY_PROVIDER):
        raise ValueError(f"metric {name!r} {'needs' if name in BY_PROVIDER else 'takes no'} capacity_provider")
    dimensions = [[CLUSTER_DIMENSION]]
    values = {CLUSTER_DIMENSION: cluster_name}
    if capacity_provider is not None:
        dimensions.append([CLUSTER_DIMENSION, PROVIDER_DIMENSION])
        values[PROVIDER_DIMENSION] = capacity_provider
    _write(
        {
            **properties,
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": dimensions,
                        "Metrics": [{"Name": name, "Unit": "Count"}],
                    }
                ],
            },
            **values,
            name: value,
            "event": "metric",
        }
    )
