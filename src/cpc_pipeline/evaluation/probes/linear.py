"""The linear probe: logistic regression on standardised features, C chosen on validation."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cpc_pipeline.evaluation.probes.config import LinearProbeConfig


def _select_on_validation(candidates, make_model, x_train, y_train, x_val, y_val, x_test) -> tuple:
    """Fit one model per candidate hyperparameter; keep the best on validation (first on ties)."""
    best = None
    for value in candidates:
        model = make_model(value).fit(x_train, y_train)
        acc = float((model.predict(x_val) == y_val).mean())
        if best is None or acc > best[1]:
            best = (value, acc, model)
    value, acc, model = best
    return value, acc, model.predict(x_test)


def fit_linear_probe(x_train, y_train, x_val, y_val, x_test, config: LinearProbeConfig, seed: int) -> tuple:
    c, acc, pred = _select_on_validation(
        config.c_grid,
        lambda c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=config.max_iter, random_state=seed)),
        x_train,
        y_train,
        x_val,
        y_val,
        x_test,
    )
    return f"C={c:g}", acc, pred
