"""Two classes: one logistic output unit on binary cross-entropy, as scikit-learn's
MLPClassifier has (``coefs_[-1]`` of shape ``(n_hidden, 1)``, ``predict_proba`` ``[1 - p,
p]``), through weights, early stopping, partial_fit, warm starts, L-BFGS and model files;
a file written with two softmax units still loads and predicts as before."""

import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from estimator_fits import fit_quietly
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier

from neural_network import MLPClassifier, build_mlp, load_model
from neural_network.core.link_losses import sigmoid
from neural_network.io.archive import ModelFileError
from neural_network.io.model_files import read_model_file, save_model

LABELS = np.array(["no", "yes"])


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, LABELS[(x[:, 0] + 0.3 * x[:, 1] > 0).astype(int)]


def _logit(clf, x):
    """The output unit's value, computed from coefs_ and intercepts_ (ReLU hidden layers)."""
    out = x
    for i, (w, b) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True)):
        out = out @ w + b
        if i < len(clf.coefs_) - 1:
            out = np.maximum(out, 0)
    return out[:, 0]


def test_two_classes_have_one_logistic_output():
    x, y = _data()
    clf = MLPClassifier(
        (5,), max_iter=100, learning_rate_init=0.05, random_state=0, dtype="float64"
    )
    fit_quietly(clf, x, y)
    assert [c.shape for c in clf.coefs_] == [(3, 5), (5, 1)]
    assert (clf.n_outputs_, clf.out_activation_, clf.n_layers_) == (1, "logistic", 3)
    p = sigmoid(_logit(clf, x))
    np.testing.assert_allclose(clf.predict_proba(x), np.column_stack([1 - p, p]), rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(x), LABELS[(p > 0.5).astype(int)])
    z = _logit(clf, x)  # log p = -log(1 + exp(-z)), exact where 1 - p rounds off
    exact = np.column_stack([-np.logaddexp(0, z), -np.logaddexp(0, -z)])
    np.testing.assert_allclose(clf.predict_log_proba(x), exact, rtol=1e-12, atol=1e-15)
    assert clf.score(x, y) > 0.8


def test_log_proba_stays_finite_where_a_probability_rounds_to_one():
    x, y = _data()
    clf = fit_quietly(MLPClassifier((5,), max_iter=2, random_state=0, dtype="float64"), x, y)
    clf.intercepts_ = [clf.intercepts_[0], np.array([60.0])]  # p = 1 - 1e-26
    log_proba = clf.predict_log_proba(x)
    assert np.isfinite(log_proba).all()
    # log(1 - p) = log(sigmoid(-z)) = -log(1 + exp(z)), about -z here.
    np.testing.assert_allclose(log_proba[:, 0], -np.logaddexp(0, _logit(clf, x)), rtol=1e-12)


def test_three_classes_keep_softmax():
    x, _ = _data()
    y = np.arange(len(x)) % 3
    clf = fit_quietly(MLPClassifier((5,), max_iter=2, random_state=0), x, y)
    assert (clf.coefs_[-1].shape, clf.out_activation_, clf.n_outputs_) == ((5, 3), "softmax", 3)


def test_class_weight_is_a_sample_weight_of_the_class():
    x, y = _data()
    settings = {"hidden_layer_sizes": (5,), "max_iter": 3, "random_state": 0, "dtype": "float64"}
    by_class = fit_quietly(MLPClassifier(**settings, class_weight={"no": 3.0}), x, y)
    by_sample = fit_quietly(
        MLPClassifier(**settings), x, y, sample_weight=np.where(y == "no", 3.0, 1.0)
    )
    unweighted = fit_quietly(MLPClassifier(**settings), x, y)
    np.testing.assert_array_equal(by_class.model_.flat.values, by_sample.model_.flat.values)
    assert not np.array_equal(by_class.model_.flat.values, unweighted.model_.flat.values)


def test_early_stopping_scores_validation_accuracy_on_a_stratified_split():
    x, y = _data(200)
    clf = fit_quietly(
        MLPClassifier(
            (8,),
            early_stopping=True,
            n_iter_no_change=3,
            max_iter=40,
            learning_rate_init=0.05,
            random_state=0,
        ),
        x,
        y,
    )
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ and all(0 <= s <= 1 for s in scores)
    assert clf.best_validation_score_ == max(scores) > 0.7
    # 20 validation samples: each score is a whole number of them.
    np.testing.assert_allclose(np.array(scores) * 20, np.round(np.array(scores) * 20))
    with pytest.raises(ValueError, match="each class needs 2 samples"):
        fit_quietly(
            MLPClassifier((4,), early_stopping=True), x, np.where(np.arange(200) == 0, "yes", "no")
        )


def test_partial_fit_with_classes_and_warm_start_continue_one_output():
    x, y = _data()
    clf = MLPClassifier((5,), random_state=0)
    clf.partial_fit(x[y == "no"], y[y == "no"], classes=LABELS)  # one class present
    assert clf.coefs_[-1].shape == (5, 1) and list(clf.classes_) == ["no", "yes"]
    clf.partial_fit(x, y)
    warm = fit_quietly(MLPClassifier((5,), max_iter=2, warm_start=True, random_state=0), x, y)
    before = warm.model_.flat.values.copy()
    fit_quietly(warm, x, y)
    assert warm.coefs_[-1].shape == (5, 1) and not np.array_equal(warm.model_.flat.values, before)


def test_lbfgs_matches_scikit_learn_from_the_same_weights():
    x, y = _data()
    settings = {"hidden_layer_sizes": (4,), "solver": "lbfgs", "max_iter": 5, "alpha": 0.1,
                "warm_start": True, "random_state": 0}  # fmt: skip
    rng = np.random.default_rng(1)
    coefs = [rng.normal(size=(3, 4)), rng.normal(size=(4, 1))]
    intercepts = [rng.normal(size=4), rng.normal(size=1)]
    fitted = []
    for estimator in (SklearnMLPClassifier(**settings), MLPClassifier(**settings, dtype="float64")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(x, y)
            estimator.coefs_ = [c.copy() for c in coefs]
            estimator.intercepts_ = [b.copy() for b in intercepts]
            estimator.fit(x, y)
        fitted.append(estimator)
    theirs, ours = fitted
    for mine, reference in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        np.testing.assert_allclose(mine, reference, rtol=1e-7, atol=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)


def test_a_binary_file_round_trips(tmp_path):
    x, y = _data()
    clf = fit_quietly(MLPClassifier((5,), max_iter=5, early_stopping=True, random_state=0), x, y)
    clf.save(tmp_path / "binary.npz")
    assert read_model_file(tmp_path / "binary.npz").classes == ["yes"]
    loaded = load_model(tmp_path / "binary.npz")
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(x), clf.predict_proba(x))
    assert (loaded.out_activation_, loaded.n_outputs_) == ("logistic", 1)
    assert loaded.validation_scores_ == clf.validation_scores_
    loaded.set_params(warm_start=True, max_iter=2)
    fit_quietly(loaded, x, y)  # continues the one output
    assert loaded.coefs_[-1].shape == (5, 1) and len(loaded.validation_scores_) > 5


def _two_softmax_file(tmp_path, clf):
    """The file an earlier version wrote for two classes: two softmax output units."""
    model = build_mlp(3, [5], 2, rng=np.random.default_rng(0), dtype=np.float64)
    rng = np.random.default_rng(4)
    for parameter in model.parameters():
        parameter.value[...] = rng.normal(size=parameter.value.shape)
    config = read_model_file(tmp_path / "binary.npz").config
    del config["binary_classes"], config["validation_scores"]
    config["params"]["init"] = None  # that version's default: He's weights for ReLU
    arrays = {"scaler.min": np.zeros(3), "scaler.scale": np.ones(3)}
    save_model(tmp_path / "old.npz", model, kind="mlp_classifier", config=config, arrays=arrays,
               classes=["no", "yes"])  # fmt: skip
    return model


def test_a_file_with_two_softmax_units_still_predicts_as_before(tmp_path):
    x, y = _data()
    clf = fit_quietly(MLPClassifier((5,), max_iter=2, random_state=0, dtype="float64"), x, y)
    clf.save(tmp_path / "binary.npz")
    model = _two_softmax_file(tmp_path, clf)
    old = load_model(tmp_path / "old.npz")
    logits = model.forward(x, training=False)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(old.predict_proba(x), expected, rtol=1e-12)
    np.testing.assert_array_equal(old.predict(x), LABELS[logits.argmax(axis=1)])
    assert (old.out_activation_, old.n_outputs_, old.coefs_[-1].shape) == ("softmax", 2, (5, 2))
    old.set_params(warm_start=True)
    fit_quietly(old, x, y)  # a warm start keeps its two softmax units
    assert old.coefs_[-1].shape == (5, 2) and len(old.loss_curve_) == 4
    assert not np.allclose(old.predict_proba(x), expected)
    old.set_params(warm_start=False)
    fit_quietly(old, x, y)  # a fresh fit is scikit-learn's one output
    assert old.coefs_[-1].shape == (5, 1)


def test_a_binary_file_with_wrong_labels_is_refused(tmp_path):
    x, y = _data()
    clf = fit_quietly(MLPClassifier((5,), max_iter=2, random_state=0), x, y)
    clf.save(tmp_path / "binary.npz")
    contents = read_model_file(tmp_path / "binary.npz")
    for labels in (["no", "maybe"], ["yes"], "no yes", ["yes", "yes"]):
        config = {**contents.config, "binary_classes": labels}
        arrays = {"scaler.min": np.zeros(3), "scaler.scale": np.ones(3)}
        save_model(tmp_path / "bad.npz", clf.model_, kind="mlp_classifier", config=config,
                   arrays=arrays, classes=["yes"])  # fmt: skip
        with pytest.raises(ModelFileError, match="binary_classes must be the two class labels"):
            load_model(tmp_path / "bad.npz")


def test_one_sgd_step_by_hand():
    """One sample, logistic units: the step from the textbook formulas, with binary
    cross-entropy on the one output and alpha divided by the batch's size, 1."""
    x, lr, alpha = np.array([[0.6, 0.8, 0.7]]), 0.1, 0.1
    w1, b1 = np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]), np.array([0.1, 0.1])
    w2, b2 = np.array([[0.1], [0.2]]), np.array([1.0])
    clf = MLPClassifier(
        hidden_layer_sizes=2, activation="logistic", solver="sgd", momentum=0.0,
        learning_rate_init=lr, alpha=alpha, max_iter=1, clip_norm=None,
    )  # fmt: skip
    clf.coefs_, clf.intercepts_ = [w1.copy(), w2.copy()], [b1.copy(), b2.copy()]
    clf.partial_fit(x, np.array(["no"]), classes=LABELS)
    hidden = sigmoid(x @ w1 + b1)
    delta2 = sigmoid(hidden @ w2 + b2) - 0.0  # the target of "no" is 0
    delta1 = (delta2 @ w2.T) * hidden * (1 - hidden)
    expected = [w1 - lr * (x.T @ delta1 + alpha * w1), w2 - lr * (hidden.T @ delta2 + alpha * w2)]
    for mine, reference in zip(clf.coefs_, expected, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-13)
    np.testing.assert_allclose(clf.intercepts_[0], b1 - lr * delta1[0], rtol=1e-13)
    np.testing.assert_allclose(clf.intercepts_[1], b2 - lr * delta2[0], rtol=1e-13)
    loss = (
        np.logaddexp(0, (hidden @ w2 + b2)[0, 0])
        + 0.5 * alpha * (w1**2).sum()
        + 0.5 * alpha * (w2**2).sum()
    )
    assert clf.loss_ == pytest.approx(loss, rel=1e-13)


def test_refitting_switches_between_binary_multiclass_and_multilabel():
    x, y = _data()
    clf = MLPClassifier((5,), max_iter=1, random_state=0)
    indicators = np.column_stack([y == "yes", x[:, 1] > 0]).astype(int)
    for target, n_outputs in ((y, 1), (indicators, 2), (y, 1), (np.arange(60) % 3, 3)):
        fit_quietly(clf, x, target)
        assert clf.n_outputs_ == n_outputs == clf.coefs_[-1].shape[1]
        assert clf.predict_proba(x).shape == (60, 3 if n_outputs == 3 else 2)
