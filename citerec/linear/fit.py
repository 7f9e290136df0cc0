"""The one logistic-regression fitter behind every model citerec ships or fits per draft.

A penalised Newton method, small enough to read and exact enough to be reproducible:
the same rows give the same weights on every machine (no solver tolerance chosen
by a library version). The penalty is a Gaussian prior around `centre` with a
per-coefficient `precision`: an L2 penalty is a prior around 0, and the per-draft
adaptation's prior around the shipped weights is the same call with another centre.
"""

from __future__ import annotations

import numpy as np

LOGIT_CLIP = 35.0  # |logit| beyond this is p = 0 or 1 to double precision: clipping keeps exp() finite
NEWTON_STEPS = 25  # at most; a logistic loss with a penalty converges in under ten from anywhere sensible
STEP_TOLERANCE = 1e-6  # stop once no coefficient moves more than this
INTERCEPT_PRECISION = 1e-8  # the intercept is (all but) unpenalised: a model's base rate is the data's


def sigmoid(z: np.ndarray) -> np.ndarray:
    """P(yes) of a logit, safe for any magnitude."""
    return 1.0 / (1.0 + np.exp(-np.clip(z, -LOGIT_CLIP, LOGIT_CLIP)))


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    precision: np.ndarray | float,
    centre: np.ndarray | None = None,
    steps: int = NEWTON_STEPS,
) -> np.ndarray:
    """Maximum a posteriori logistic regression: the coefficients of `x`'s columns (include a column of ones
    for an intercept), with a Gaussian prior of `precision` (per coefficient, or one for all) around `centre`
    (default 0). Newton steps from the centre."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    width = x.shape[1]
    centre = np.zeros(width) if centre is None else np.asarray(centre, dtype=np.float64)
    penalty = np.broadcast_to(np.asarray(precision, dtype=np.float64), (width,))
    w = centre.copy()
    for _ in range(steps):
        p = sigmoid(x @ w)
        gradient = x.T @ (y - p) - penalty * (w - centre)
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w = w + step
        if np.abs(step).max() < STEP_TOLERANCE:
            break
    return w


def fit_standardised(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, scale, weights, bias) of an L2-penalised logistic regression on standardised columns; the intercept
    unpenalised. A constant column gets scale 1 (and weight 0)."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    design = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    precision = np.full(design.shape[1], float(l2))
    precision[-1] = INTERCEPT_PRECISION
    w = fit_logistic(design, y, precision)
    return mean, scale, w[:-1], float(w[-1])
