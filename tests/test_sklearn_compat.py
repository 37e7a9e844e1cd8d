"""scikit-learn's own estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from fastsoftmax import SoftmaxRegression


@parametrize_with_checks([SoftmaxRegression()])
def test_sklearn_compatible(estimator, check):
    check(estimator)
