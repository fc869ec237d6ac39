"""The linear probe: multinomial logistic regression on standardised features, its L2 strength C chosen on
validation.

For each C the probe minimises scikit-learn's objective ``C * sum_i CE(W x_i + b, y_i) + ||W||^2 / 2`` (the bias
unpenalised), with features standardised by the train split's mean and standard deviation (a constant feature's
scale is 1), as ``make_pipeline(StandardScaler(), LogisticRegression(C=C))`` does:

- ``solver: torch`` (the default): full-batch L-BFGS with a strong-Wolfe line search in torch, on the probe's
  device, on the objective divided by ``C * n`` (same minimiser, better scaled), preconditioned: in the basis of the
  features' principal axes (eigenvalues ``l_j``), each scaled by ``(l_j + 1 / (C n))^(-1/2)``, the objective's
  curvature is about one in every direction, so L-BFGS needs a few hundred evaluations where it would need
  thousands (for features up to ``PRECONDITIONED_DIMS`` wide; wider ones, raw pixels, are solved as they are). The
  grid's C are fitted from the strongest penalty to the weakest, each starting from the previous solution (warm
  start). ``benchmarks/linear_probe.py`` measures it against scikit-learn's.
- ``solver: sklearn``: scikit-learn's ``LogisticRegression`` (lbfgs) for each C, cold-started: the reference.

The chosen C is the best on validation (the first of ``c_grid`` on ties); a C at an end of the grid is logged as a
warning, since a wider grid might have done better.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from cpc_pipeline.evaluation.probes.config import LinearProbeConfig

logger = logging.getLogger(__name__)
PRECONDITIONED_DIMS = 4096  # features up to this wide are solved in their principal axes (an eigh of D x D)


def _sklearn_predictions(x_train, y_train, evaluate, config: LinearProbeConfig, seed: int) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out = {}
    for c in config.c_grid:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=config.max_iter, random_state=seed))
        model.fit(x_train, y_train)
        out[c] = [model.predict(x) for x in evaluate]
    return out


def _torch_predictions(x_train, y_train, evaluate, config: LinearProbeConfig, device) -> dict:
    classes, codes = np.unique(y_train, return_inverse=True)
    as_tensor = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32, device=device)  # noqa: E731
    x = as_tensor(x_train)
    mean, scale = x.mean(0), x.std(0, unbiased=False)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    fits = logistic_regression((x - mean) / scale, torch.as_tensor(codes, device=device), len(classes), config)
    with torch.no_grad():
        return {
            c: [classes[(((as_tensor(e) - mean) / scale) @ weight + bias).argmax(1).cpu()] for e in evaluate]
            for c, (weight, bias) in fits.items()
        }


def logistic_regression(x, codes, classes: int, config: LinearProbeConfig) -> dict[float, tuple]:
    """Standardised features ``x`` (N, D) and class indices -> ``{C: (W (D, classes), b)}`` for every C of the grid,
    each the minimiser of ``mean CE(x W + b) + ||W||^2 / (2 C N)``."""
    n, d = x.shape
    onehot = F.one_hot(codes, classes).float()
    if d <= PRECONDITIONED_DIMS:  # the features' principal axes: the data term's curvature, to undo it
        spectrum, axes = torch.linalg.eigh((x.T @ x).double() / n)
        spectrum, axes = spectrum.clamp_min(0).float(), axes.float()
        x = x @ axes
    else:
        spectrum, axes = torch.ones(d, device=x.device), None
    rotated = torch.zeros(d, classes, device=x.device)  # W in the principal axes' basis
    bias = torch.zeros(classes, device=x.device)
    out = {}
    for c in sorted(config.c_grid):  # strongest penalty first: each fit starts from the last one's solution
        penalty = 1 / (2 * c * n)
        step = (spectrum + 2 * penalty).rsqrt()  # W = axes diag(step) U: the objective's curvature about 1 in U
        u, bias = _minimise(x * step, onehot, rotated / step[:, None], bias, penalty * step.square(), config.max_iter)
        rotated = u * step[:, None]
        out[c] = (rotated if axes is None else axes @ rotated, bias)
    return out


def _minimise(z, onehot, u, bias, penalty, max_iter: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``mean CE(z U + b, y) + sum_j penalty_j ||U_j||^2`` by full-batch L-BFGS from ``u``, ``bias``; gradients by
    hand (two matrix products per evaluation, the second as ``G^T z``, which BLAS does fastest)."""
    u, bias = u.clone().requires_grad_(), bias.clone().requires_grad_()
    optimiser = torch.optim.LBFGS(
        [u, bias], lr=1, max_iter=max_iter, history_size=20, tolerance_grad=1e-4, tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )  # fmt: skip
    n, penalty = len(z), penalty[:, None]

    def objective():
        with torch.no_grad():
            log_p = (z @ u + bias).log_softmax(1)
            residual = (log_p.exp() - onehot) / n
            u.grad = ((residual.T @ z).T + 2 * penalty * u).contiguous()
            bias.grad = residual.sum(0)
            return -(log_p * onehot).sum() / n + (penalty * u.square()).sum()

    optimiser.step(objective)
    return u.detach(), bias.detach()


def fit_linear_probe(
    x_train, y_train, x_val, y_val, x_test, config: LinearProbeConfig, seed: int, device="cpu"
) -> tuple:
    """The C of ``config.c_grid`` best on validation -> ``("C=<c>", validation accuracy, test predictions)``."""
    fits = (
        _torch_predictions(x_train, y_train, (x_val, x_test), config, device)
        if config.solver == "torch"
        else _sklearn_predictions(x_train, y_train, (x_val, x_test), config, seed)
    )
    accuracy = {c: float((fits[c][0] == y_val).mean()) for c in config.c_grid}
    best = max(config.c_grid, key=lambda c: (accuracy[c], -config.c_grid.index(c)))
    if len(config.c_grid) > 1 and best in (min(config.c_grid), max(config.c_grid)):
        logger.warning(
            "linear probe: validation chose C=%g, an end of probing.probes.linear.c_grid %s: a wider grid may do "
            "better",
            best,
            config.c_grid,
        )
    return f"C={best:g}", accuracy[best], fits[best][1]
