"""SoftmaxRegressionCV: choose C by cross-validation over a warm-started path.

How it is built: for every fold, the training rows are bound into one
objective and :func:`fastsoftmax.path.solve_path` fits all C values from the
smallest to the largest, each from the previous optimum; each model is
scored on the held-out rows (the default negative log-loss by the loss
kernel, any other scikit-learn scorer through a fitted model). The C with the
best total score is refitted on all the data, starting from the mean of the
fold solutions at that C (as scikit-learn's ``LogisticRegressionCV`` does),
which is close to the full-data optimum. Every solve stops at the same
``tol`` as a plain fit: a fold's models are not looser than the refit.

Memory beyond the data: one fold's training and held-out rows (a copy of X
by rows, dense or CSR, since the kernels read contiguous rows), the running
sum of fold solutions (n_Cs x K x d), and, for scorers other than the
log-loss, one fold's predictions at a time.
"""

import inspect

import numpy as np
from sklearn.metrics import get_scorer, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils.validation import validate_data

from ._targets import encode_labels
from ._threads import kernel_threads
from ._validation import check_sample_weight, combined_weights
from .estimator import SoftmaxRegression
from .objective import make_objective
from .path import (
    canonical,
    check_Cs,
    null_model_start,
    params_object,
    resolve_path_penalty,
    solve_path,
    warn_unconverged,
)


def fold_scorer(scoring, classes):
    """The scorer for ``scoring``, told every class of the full data.

    A held-out fold may miss a class; scorers whose metric takes ``labels``
    (log-loss, Brier score) would then see fewer columns in ``y`` than in the
    probabilities and fail or mis-score. scikit-learn's ``LogisticRegressionCV``
    rebuilds such scorers with ``labels=classes``; so does this.
    """
    scorer = get_scorer(scoring)
    score_func = getattr(scorer, "_score_func", None)
    if score_func is None or "labels" not in inspect.signature(score_func).parameters:
        return scorer
    kwargs = dict(getattr(scorer, "_kwargs", {}))
    kwargs["labels"] = classes
    if classes.shape[0] == 2 and "pos_label" in inspect.signature(score_func).parameters:
        kwargs["pos_label"] = classes[-1]
    return make_scorer(
        score_func, greater_is_better=scorer._sign == 1,
        response_method=scorer._response_method, **kwargs,
    )


class SoftmaxRegressionCV(SoftmaxRegression):
    """Softmax regression with C chosen by cross-validation.

    Fits the model of :class:`SoftmaxRegression` at every C of a grid on
    every training fold, warm-starting along the grid from the strongest
    penalty to the weakest; scores each model on its held-out fold; refits
    the C with the best total score on all the data. The interface follows
    scikit-learn's ``LogisticRegressionCV``; the prediction methods are those
    of :class:`SoftmaxRegression`.

    Parameters
    ----------
    Cs : int or array-like of shape (n_Cs,), default=10
        C values to try (> 0; ``np.inf`` is the unpenalised fit). An int
        ``n`` means ``np.logspace(-4, 4, n)``, as in scikit-learn.
    cv : int, cross-validation generator or iterable, default=None
        As for scikit-learn's ``check_cv`` with a classifier: None is
        5-fold ``StratifiedKFold``, an int that many stratified folds.
    penalty : {"auto", "l2", "l1", "elasticnet", "group_lasso"}, default="auto"
        As for SoftmaxRegression; ``None`` is an error (C would change nothing).
    l1_ratio : float in [0, 1] or None, default=None
        As for SoftmaxRegression (one value; it is not cross-validated).
    scoring : str or callable, default="neg_log_loss"
        A scikit-learn scorer name or ``scorer(estimator, X, y)``; greater is
        better. Metrics that take ``labels`` are given every class, so a fold
        missing a class is scored correctly. "neg_log_loss" is computed from
        the log-softmax by the loss kernel (no probabilities are formed), so
        it is not clipped at float64's eps as scikit-learn's log_loss is.
    fit_intercept : bool, default=True
        Whether to fit the intercepts.
    solver : {"auto", "lbfgs", "proximal"}, default="auto"
    tol : float, default=1e-4
        Stopping tolerance of every fit, folds and refit alike.
    max_iter : int, default=100
        Maximum iterations of each fit (per C and fold).
    class_weight : dict, "balanced" or None, default=None
        Computed once on all the data, then applied in every fold, as in
        scikit-learn. The scorer sees the sample weights only.
    refit : bool, default=True
        If True, refit on all the data at the best C. If False, average each
        fold's model at that fold's best C, and ``C_`` is the mean of those
        C values (scikit-learn's rule).
    n_threads : int or None, default=None
        Kernel threads; None uses all cores (or ``n_jobs`` if set). Folds run
        one after the other, each on all the threads.
    n_jobs : int or None, default=None
        scikit-learn's spelling of the thread count, used when ``n_threads``
        is None.
    verbose : int, default=0
        1 prints a line per fold and C; 2 also prints the solver's progress.

    Attributes
    ----------
    C_ : float
        The selected C.
    Cs_ : ndarray of shape (n_Cs,)
        The grid, in the order given.
    scores_ : ndarray of shape (n_folds, n_Cs)
        Held-out score of each fold at each C.
    n_iter_ : ndarray of shape (n_folds, n_Cs)
        Solver iterations of each fold at each C (0 where the previous C's
        solution already met ``tol``).
    n_evaluations_ : ndarray of shape (n_folds, n_Cs)
        Passes over the fold's data at each C.
    refit_n_iter_ : int
        Iterations of the refit (0 when ``refit=False``).
    coef_ : ndarray of shape (n_classes, n_features)
    intercept_ : ndarray of shape (n_classes,)
        Summing to zero over classes.
    objective_ : float
        F at ``coef_``, ``intercept_`` for ``C_`` on all the data (refit only).
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Number of features seen by ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen by ``fit``; only when X has string feature
        names.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import scale
    >>> from fastsoftmax import SoftmaxRegressionCV
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SoftmaxRegressionCV(Cs=5).fit(scale(X), y)
    >>> model.scores_.shape
    (5, 5)
    """

    def __init__(
        self,
        *,
        Cs=10,
        cv=None,
        penalty="auto",
        l1_ratio=None,
        scoring="neg_log_loss",
        fit_intercept=True,
        solver="auto",
        tol=1e-4,
        max_iter=100,
        class_weight=None,
        refit=True,
        n_threads=None,
        n_jobs=None,
        verbose=0,
    ):
        self.Cs = Cs
        self.cv = cv
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.scoring = scoring
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.refit = refit
        self.n_threads = n_threads
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _check_params(self):
        """Penalty name and L1 ratio, the grid, and every other parameter checked."""
        name = type(self).__name__
        params = params_object(
            name, penalty=self.penalty, l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept, solver=self.solver, tol=self.tol,
            max_iter=self.max_iter, class_weight=self.class_weight,
            n_threads=self.n_threads, n_jobs=self.n_jobs, verbose=self.verbose,
        )
        penalty, l1_ratio = resolve_path_penalty(params)
        if not isinstance(self.refit, (bool, np.bool_)):
            raise TypeError(f"{name}: refit must be True or False, got {self.refit!r}.")
        return penalty, l1_ratio, check_Cs(self.Cs, name)

    def fit(self, X, y, sample_weight=None):
        """Cross-validate C over the grid, then refit at the best C.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            float32 stays float32; other dtypes become float64. CSR is used
            as it is (other sparse formats are converted once).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; used by the fits and passed to the scorer.

        Returns
        -------
        SoftmaxRegressionCV
            The fitted estimator itself.
        """
        name = type(self).__name__
        penalty, l1_ratio, Cs = self._check_params()
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], order="C", accept_sparse="csr",
            ensure_min_samples=1, y_numeric=False,
        )
        classes, y_codes = encode_labels(y, name)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        weights = combined_weights(sample_weight, self.class_weight, y_codes, classes)
        scorer = fold_scorer(self.scoring, classes)
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y))
        n_classes, n_Cs, n_folds = classes.shape[0], Cs.shape[0], len(folds)
        solve_options = {
            "solver": self.solver, "tol": self.tol, "max_iter": self.max_iter,
            "n_threads": self._threads(), "verbose": self.verbose,
        }

        self.scores_ = np.empty((n_folds, n_Cs))
        self.n_iter_ = np.empty((n_folds, n_Cs), dtype=np.int32)
        self.n_evaluations_ = np.empty((n_folds, n_Cs), dtype=np.int32)
        solution_sums = None  # (n_Cs, n_params): sum over folds, for the refit's start
        fold_best_sum, fold_best_Cs = None, []  # refit=False: each fold at its best C
        for fold, (train, test) in enumerate(folds):
            fold_weights = None if weights is None else weights[train]
            if fold_weights is not None and not np.any(fold_weights > 0):
                raise ValueError(
                    f"{name}: every training sample of fold {fold} has weight zero; "
                    "use other folds (cv=) or give these samples positive weights."
                )
            objective = make_objective(
                X[train], y_codes[train], fold_weights, n_classes, self.fit_intercept
            )
            start = null_model_start(objective, y_codes[train], fold_weights)
            if self.verbose > 0:
                print(f"fold {fold + 1}/{n_folds}: {train.shape[0]} training samples")
            path = solve_path(objective, penalty, l1_ratio, Cs, w0=start, **solve_options)
            warn_unconverged(f"{name} (fold {fold})", self.tol, Cs, path)
            self.n_iter_[fold] = path.n_iter
            self.n_evaluations_[fold] = path.n_evaluations
            self.scores_[fold] = self._held_out_scores(
                scorer, path.solutions, Cs, X[test], y[test], y_codes[test],
                None if sample_weight is None else sample_weight[test], objective, classes,
            )
            if solution_sums is None:
                solution_sums = np.zeros_like(path.solutions)
                fold_best_sum = np.zeros(objective.n_params)
            solution_sums += path.solutions
            best_here = int(np.argmax(self.scores_[fold]))
            fold_best_sum += path.solutions[best_here]
            fold_best_Cs.append(Cs[best_here])
            del objective  # free this fold's copy of X before the next

        self.Cs_ = Cs
        self.classes_ = classes
        full = make_objective(X, y_codes, weights, n_classes, self.fit_intercept)
        if self.refit:
            best = int(np.argmax(self.scores_.sum(axis=0)))
            self.C_ = float(Cs[best])
            # The mean fold solution at the best C is near the full-data optimum.
            path = solve_path(
                full, penalty, l1_ratio, Cs[best : best + 1],
                w0=solution_sums[best] / n_folds, **solve_options,
            )
            warn_unconverged(name, self.tol, Cs[best : best + 1], path)
            coef, intercept = canonical(full, path.solutions[0], self.C_)
            self.objective_ = float(path.objectives[0])
            self.refit_n_iter_ = int(path.n_iter[0])
        else:
            self.C_ = float(np.mean(fold_best_Cs))
            coef, intercept = canonical(full, fold_best_sum / n_folds, self.C_)
            self.refit_n_iter_ = 0
        self.coef_ = coef
        self.intercept_ = intercept
        return self

    def _held_out_scores(self, scorer, solutions, Cs, X_test, y_test, codes_test,
                         weights_test, objective, classes):
        """Score of each path solution on the held-out rows, shape (n_Cs,).

        ``scoring="neg_log_loss"`` is the held-out objective's data term (the
        weighted mean cross-entropy), computed by the loss kernel: one pass
        per C, no (n_test, K) probabilities. It equals scikit-learn's
        log-loss of ``predict_proba`` except where a probability is below
        float64's eps, which log_loss clips and this does not. Any other
        scorer gets a fitted SoftmaxRegression per C.
        """
        if isinstance(self.scoring, str) and self.scoring == "neg_log_loss":
            held_out = make_objective(
                X_test, codes_test, weights_test, classes.shape[0], self.fit_intercept
            )

            def score(w, C):
                with kernel_threads(self._threads()):
                    return -held_out.loss(w)
        else:
            params = {} if weights_test is None else {"sample_weight": weights_test}

            def score(w, C):
                model = self._scoring_model(objective, w, C, classes)
                return scorer(model, X_test, y_test, **params)

        # Where the previous C's solution already met tol at the next C, the
        # two models are the same bits (common at the weak end of a grid):
        # score them once.
        scores, scored = np.empty(len(Cs)), {}
        for j, (w, C) in enumerate(zip(solutions, Cs)):
            key = w.tobytes()
            if key not in scored:
                scored[key] = score(w, C)
            scores[j] = scored[key]
        return scores

    def _scoring_model(self, objective, w, C, classes):
        """A fitted SoftmaxRegression holding one path solution, for a scorer."""
        model = SoftmaxRegression(
            C=C, fit_intercept=self.fit_intercept, n_threads=self._threads()
        )
        model.coef_, model.intercept_ = canonical(objective, w, C)
        model.classes_ = classes
        model.n_features_in_ = objective.n_features
        return model

    def score(self, X, y, sample_weight=None):
        """The ``scoring`` metric of the fitted model on ``X``, ``y``.

        As in scikit-learn's ``LogisticRegressionCV``: the metric that chose
        ``C_`` (negative log-loss by default), not the accuracy.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to score.
        y : array-like of shape (n_samples,)
            Their true labels.
        sample_weight : array-like of shape (n_samples,), optional
            Weights passed to the scorer.

        Returns
        -------
        float
            The score; greater is better.
        """
        scorer = get_scorer(self.scoring)
        if sample_weight is None:
            return scorer(self, X, y)
        return scorer(self, X, y, sample_weight=sample_weight)


# The prediction methods inherited from SoftmaxRegression read some of its
# parameters (n_threads and fit_intercept, which this class takes, and options
# of the prediction rule such as cost_matrix, which it does not). Every
# parameter of the parent that this class does not take keeps its default
# here, as a class attribute, so those methods work as for a default
# SoftmaxRegression; get_params and clone see only this class's own
# parameters. C is left out: the fitted choice is C_.
_OWN_PARAMETERS = inspect.signature(SoftmaxRegressionCV.__init__).parameters
for _name, _parameter in inspect.signature(SoftmaxRegression.__init__).parameters.items():
    if _name not in _OWN_PARAMETERS and _name not in ("self", "C"):
        setattr(SoftmaxRegressionCV, _name, _parameter.default)
del _name, _parameter
