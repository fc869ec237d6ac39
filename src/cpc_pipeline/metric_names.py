"""The names under which a probe's figures are tracked in MLflow, readable in its runs table, and read back."""

from __future__ import annotations

import re

from cpc_pipeline.methods import METHODS


def probe_metric(encoder: str, probe: str, label_fraction: float, measure: str = "test_accuracy") -> str:
    """MLflow's name for one probe figure, as the runs table shows it: the method's name, the probe, the labels
    as a percentage, the measure: ``sequence_cpc.linear.100pct_labels.test_accuracy``."""
    name = METHODS[encoder].slug if encoder in METHODS else encoder
    return f"{name}.{probe}.{100 * label_fraction:g}pct_labels.{measure}"


_PROBE_METRIC = re.compile(r"^(?P<name>\w+)\.(?P<probe>\w+)\.(?P<pct>[0-9.e+-]+)pct_labels\.(?P<measure>\w+)$")


def parse_probe_metric(metric: str) -> tuple[str, str, float, str] | None:
    """(encoder key, probe, label fraction, measure) of a :func:`probe_metric` name, else None."""
    m = _PROBE_METRIC.match(metric)
    if m is None:
        return None
    keys = {method.slug: key for key, method in METHODS.items()}
    return keys.get(m["name"], m["name"]), m["probe"], float(m["pct"]) / 100, m["measure"]
