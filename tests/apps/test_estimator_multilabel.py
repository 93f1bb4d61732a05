"""MLPClassifier on a label-indicator y: sigmoid outputs and binary cross-entropy."""

import re

import numpy as np
import pytest
from scipy.special import xlogy

pytest.importorskip("sklearn")
from estimator_fits import fit_quietly
from sklearn.exceptions import DataConversionWarning

from neural_network import MLPClassifier, load_model


@pytest.fixture
def labels(rng):
    x = rng.normal(size=(120, 5))
    y = np.stack([x[:, 0] > 0, x[:, 1] + x[:, 2] > 0, x[:, 3] > 0.5], axis=1).astype(int)
    return x, y


def test_multilabel_fit_predicts_an_indicator_matrix(labels):
    x, y = labels
    clf = fit_quietly(MLPClassifier((8,), solver="lbfgs", max_iter=300, random_state=0), x, y)
    assert clf.classes_.tolist() == [0, 1, 2] and clf.out_activation_ == "logistic"
    assert clf.n_outputs_ == 3
    predicted = clf.predict(x)
    assert predicted.shape == y.shape and predicted.dtype == np.int64
    assert set(np.unique(predicted)) <= {0, 1}
    assert clf.score(x, y) > 0.9  # subset accuracy: every label of a sample right
    proba = clf.predict_proba(x)
    assert proba.shape == y.shape and ((proba >= 0) & (proba <= 1)).all()
    assert not np.allclose(proba.sum(axis=1), 1)  # independent labels, not a softmax
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(int))
    np.testing.assert_allclose(clf.predict_log_proba(x), np.log(proba))


def test_multilabel_loss_is_the_summed_binary_cross_entropy(labels):
    x, y = labels
    clf = fit_quietly(
        MLPClassifier((6,), solver="lbfgs", alpha=0.0, max_iter=20, random_state=0), x, y
    )
    p = clf.predict_proba(x)
    # xlogy: a label predicted with probability exactly 1 adds 0, not 0 * log(0)
    by_hand = -np.mean(np.sum(xlogy(y, p) + xlogy(1 - y, 1 - p), axis=1))
    assert clf.loss_ == pytest.approx(by_hand, rel=1e-9)


def test_multilabel_early_stopping_scores_subset_accuracy(labels):
    x, y = labels
    clf = fit_quietly(MLPClassifier((8,), early_stopping=True, max_iter=30, random_state=0), x, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ and all(0 <= s <= 1 for s in scores)
    assert clf.best_validation_score_ == max(scores)


def test_multilabel_partial_fit_continues(labels):
    x, y = labels
    clf = MLPClassifier((8,), solver="sgd", learning_rate_init=0.1, random_state=0)
    clf.partial_fit(x, y, classes=[0, 1, 2])
    first = clf.loss_
    for _ in range(20):
        clf.partial_fit(x, y)
    assert clf.classes_.tolist() == [0, 1, 2] and clf.loss_ < first


def test_multilabel_saves_and_loads(labels, tmp_path):
    x, y = labels
    clf = fit_quietly(MLPClassifier((8,), early_stopping=True, max_iter=5, random_state=0), x, y)
    clf.save(tmp_path / "multilabel.npz")
    loaded = load_model(tmp_path / "multilabel.npz")
    np.testing.assert_array_equal(loaded.predict(x), clf.predict(x))
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))
    assert loaded.validation_scores_ == clf.validation_scores_
    assert loaded.out_activation_ == "logistic"


@pytest.mark.parametrize(
    ("params", "message"),
    [({"class_weight": "balanced"}, "class_weight='balanced'"), ({"device": "cuda"}, "CPU")],
)
def test_multilabel_refuses_single_label_options(labels, params, message):
    x, y = labels
    with pytest.raises(ValueError, match=re.escape(message)):
        MLPClassifier((4,), **params).fit(x, y)


def test_warm_start_refuses_another_kind_of_y(labels):
    x, y = labels
    clf = fit_quietly(MLPClassifier((4,), max_iter=2, warm_start=True, random_state=0), x, y)
    with pytest.raises(ValueError, match="fitted on a label-indicator matrix"):
        clf.fit(x, np.arange(len(x)) % 3)  # the same classes_, one label per sample


def test_a_column_vector_y_warns_and_fits_as_labels(labels):
    x, y = labels
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = fit_quietly(MLPClassifier((4,), max_iter=2, random_state=0), x, y[:, :1])
    # One label per sample, of two classes: scikit-learn's binary classifier, not multilabel.
    assert not clf._multilabel and clf.predict(x).shape == (len(x),)
    assert (clf.out_activation_, clf.n_outputs_, clf.predict_proba(x).shape) == (
        "logistic",
        1,
        (len(x), 2),
    )
