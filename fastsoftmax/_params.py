"""Validation of SoftmaxRegression's constructor parameters (done in fit).

Each error says which value is wrong and what to pass instead; parameters
that scikit-learn's LogisticRegression has but fastsoftmax does not use name
the fastsoftmax equivalent.
"""

import numbers

import numpy as np

SUPPORTED_PENALTIES = ("l2", None)
SUPPORTED_SOLVERS = ("auto", "lbfgs")
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
    if est.penalty == "none":
        raise ValueError(f"{name}: penalty='none' is spelled penalty=None.")
    if est.penalty not in SUPPORTED_PENALTIES:
        raise ValueError(
            f"{name}: penalty={est.penalty!r} is not supported; use one of "
            f"{SUPPORTED_PENALTIES}."
        )
    if est.solver in SKLEARN_SOLVERS:
        raise ValueError(
            f"{name}: solver={est.solver!r} is a scikit-learn solver; fastsoftmax "
            "uses solver='auto' (or 'lbfgs'), which reaches the same optimum."
        )
    if est.solver not in SUPPORTED_SOLVERS:
        raise ValueError(
            f"{name}: solver={est.solver!r} is not known; use one of {SUPPORTED_SOLVERS}."
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
