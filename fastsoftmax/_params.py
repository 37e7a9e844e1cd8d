"""Validation of SoftmaxRegression's constructor parameters (done in fit).

Each error says which value is wrong and what to pass instead; parameters
that scikit-learn's LogisticRegression has but fastsoftmax does not use name
the fastsoftmax equivalent.
"""

import numbers

import numpy as np

SUPPORTED_PENALTIES = ("auto", "l2", "l1", "elasticnet", "group_lasso", None)
SMOOTH_PENALTIES = ("l2", None)
SUPPORTED_SOLVERS = ("auto", "lbfgs", "proximal")
SKLEARN_SOLVERS = ("newton-cg", "newton-cholesky", "sag", "saga", "liblinear")


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_estimator_params(est):
    """Raise ``ValueError`` / ``TypeError`` for an invalid parameter of ``est``."""
    name = type(est).__name__
    if not _is_real(est.C) or np.isnan(est.C) or est.C <= 0:
        raise ValueError(
            f"{name}: C must be a positive number (np.inf for no penalty), got {est.C!r}."
        )
    penalty, _ = resolve_penalty(est)
    if est.solver in SKLEARN_SOLVERS:
        raise ValueError(
            f"{name}: solver={est.solver!r} is a scikit-learn solver; fastsoftmax "
            "uses solver='auto' (L-BFGS for 'l2' or None, 'proximal' for 'l1', "
            "'elasticnet' and 'group_lasso'), which reaches the same optimum."
        )
    if est.solver not in SUPPORTED_SOLVERS:
        raise ValueError(
            f"{name}: solver={est.solver!r} is not known; use one of {SUPPORTED_SOLVERS}."
        )
    if est.solver == "lbfgs" and penalty not in SMOOTH_PENALTIES:
        raise ValueError(
            f"{name}: solver='lbfgs' needs a smooth penalty ('l2' or None), but the "
            f"penalty is {penalty!r}; use solver='proximal' or 'auto'."
        )
    if not _is_real(est.tol) or not np.isfinite(est.tol) or est.tol < 0:
        raise ValueError(f"{name}: tol must be a finite number >= 0, got {est.tol!r}.")
    if not _is_int(est.max_iter) or est.max_iter < 1:
        raise ValueError(f"{name}: max_iter must be an int >= 1, got {est.max_iter!r}.")
    cw = est.class_weight
    if not (cw is None or (isinstance(cw, str) and cw == "balanced") or isinstance(cw, dict)):
        raise ValueError(
            f"{name}: class_weight must be None, 'balanced' or a dict "
            f"{{label: weight}}, got {cw!r}."
        )
    smoothing = getattr(est, "label_smoothing", 0.0)
    if not _is_real(smoothing) or not 0 <= smoothing < 1:
        raise ValueError(
            f"{name}: label_smoothing must be a number in [0, 1), got {smoothing!r}."
        )
    callback = getattr(est, "callback", None)
    if callback is not None and not callable(callback):
        raise TypeError(
            f"{name}: callback must be callable (it receives an IterationState and "
            f"returns True to stop) or None, got {type(callback).__name__}."
        )
    if not isinstance(est.verbose, numbers.Integral) or est.verbose < 0:
        raise ValueError(f"{name}: verbose must be an int >= 0, got {est.verbose!r}.")
    for param in ("n_threads", "n_jobs"):
        value = getattr(est, param)
        if value is not None and (not _is_int(value) or value == 0):
            raise ValueError(
                f"{name}: {param} must be None or a non-zero int (-1 for all "
                f"cores), got {value!r}."
            )
    if est.multi_class != "multinomial":
        raise ValueError(
            f"{name}: multi_class={est.multi_class!r} is not available; softmax "
            "regression is multinomial by construction. Use "
            "multi_class='multinomial' or leave it out (one-vs-rest: wrap the "
            "estimator in sklearn.multiclass.OneVsRestClassifier)."
        )
    if est.dual is not False:
        raise ValueError(
            f"{name}: dual={est.dual!r} is liblinear's dual formulation, which "
            "fastsoftmax does not have; it always solves the primal problem, so "
            "leave dual=False."
        )
    if est.intercept_scaling != 1:
        raise ValueError(
            f"{name}: intercept_scaling={est.intercept_scaling!r} only matters for "
            "liblinear, which penalises the intercept; fastsoftmax never does, so "
            "leave intercept_scaling=1."
        )
    if not isinstance(est.fit_intercept, (bool, np.bool_)):
        raise ValueError(f"{name}: fit_intercept must be True or False, got {est.fit_intercept!r}.")
    if not isinstance(est.warm_start, (bool, np.bool_)):
        raise ValueError(f"{name}: warm_start must be True or False, got {est.warm_start!r}.")


def resolve_penalty(est):
    """The penalty and L1 ratio that ``penalty``, ``l1_ratio`` and ``C`` select.

    Both scikit-learn spellings work: ``penalty=`` (scikit-learn < 1.8) and
    ``l1_ratio`` alone with ``penalty="auto"`` (0 is L2, 1 is L1, between is
    elastic-net; scikit-learn >= 1.8, whose ``penalty="deprecated"`` means the
    same as "auto"). ``C=np.inf`` means no penalty. A pair that contradicts
    itself is an error, never a silent choice.

    Returns
    -------
    penalty : {"l2", "l1", "elasticnet", "group_lasso", None}
    l1_ratio : float or None
        Only for "elasticnet".
    """
    name = type(est).__name__
    penalty, ratio = est.penalty, est.l1_ratio
    if penalty == "none":
        raise ValueError(f"{name}: penalty='none' is spelled penalty=None.")
    if penalty == "deprecated":
        penalty = "auto"
    if penalty not in SUPPORTED_PENALTIES:
        raise ValueError(
            f"{name}: penalty={penalty!r} is not supported; use one of "
            f"{SUPPORTED_PENALTIES}."
        )
    if ratio is not None and (not _is_real(ratio) or not 0 <= ratio <= 1):
        raise ValueError(f"{name}: l1_ratio must be None or a number in [0, 1], got {ratio!r}.")
    if ratio is None:
        if penalty == "elasticnet":
            raise ValueError(
                f"{name}: penalty='elasticnet' needs l1_ratio in [0, 1] (the share "
                "of the L1 term), e.g. l1_ratio=0.5."
            )
        resolved = "l2" if penalty == "auto" else penalty
    elif penalty in ("auto", "elasticnet"):
        resolved = "l2" if ratio == 0 else "l1" if ratio == 1 else "elasticnet"
    else:
        implied = {"l2": 0, "l1": 1}.get(penalty)
        if implied is None or ratio != implied:
            raise ValueError(
                f"{name}: penalty={penalty!r} contradicts l1_ratio={ratio!r}. Pass "
                "l1_ratio alone (0 is L2, 1 is L1, between is elastic-net), or "
                "penalty='elasticnet' with l1_ratio, or penalty without l1_ratio."
            )
        resolved = penalty
    if _is_real(est.C) and np.isinf(est.C):
        resolved = None
    return resolved, (float(ratio) if resolved == "elasticnet" else None)
