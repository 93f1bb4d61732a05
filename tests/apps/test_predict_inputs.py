"""``predict`` checks its inputs before decoding them: only formats decoded inside Pillow
(never EPS, which runs Ghostscript), pictures of at most MAX_PIXELS, .npy arrays of one
digit checked from their header; labels from a model file are printed escaped; a model
whose outputs are not finite is an error, not NaN probabilities and label 0."""

import io
import json

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image, ImageDraw

from neural_network import build_mlp, load_mnist
from neural_network.apps.cli import main
from neural_network.data.image_files import IMAGE_FORMATS, MAX_PIXELS


@pytest.fixture(scope="module")
def digits():
    _, (x_test, y_test) = load_mnist()
    return x_test[:1000], y_test[:1000]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.npz"
    build_mlp(784, [8], 10, rng=np.random.default_rng(0)).save(path)
    return path


def run_predict(capsys, *argv):
    code = main(["predict", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_eps_is_refused_and_ghostscript_never_runs(tmp_path, model_file, monkeypatch, capsys):
    calls = []

    def ghostscript(*args, **kwargs):
        calls.append(args)
        raise OSError("Ghostscript was called")

    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", ghostscript)
    picture = Image.new("L", (28, 28), 255)
    ImageDraw.Draw(picture).line((14, 4, 14, 24), fill=0, width=3)
    picture.save(tmp_path / "digit.eps")
    code, out, err = run_predict(capsys, model_file, tmp_path / "digit.eps")
    assert (code, out) == (1, "")
    assert "PNG" in err and err.count("\n") == 1
    assert calls == []


@pytest.mark.parametrize("image_format", ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"])
def test_the_formats_read_are_accepted(tmp_path, model_file, digits, image_format, capsys):
    assert image_format in IMAGE_FORMATS
    path = tmp_path / f"digit.{image_format.lower()}"
    Image.fromarray(digits[0][0].reshape(28, 28)).save(path, format=image_format)
    code, out, _ = run_predict(capsys, model_file, path, "--json")
    assert code == 0 and json.loads(out)[0]["file"] == str(path)


def test_a_huge_picture_is_refused_from_its_header(tmp_path, model_file, capsys):
    path = tmp_path / "huge.png"
    picture = Image.new("1", (12000, 12000), 1)  # compresses to a small file
    ImageDraw.Draw(picture).line((6000, 2000, 6000, 10000), fill=0, width=800)
    picture.save(path)
    assert MAX_PIXELS < 12000 * 12000
    code, out, err = run_predict(capsys, model_file, path)
    assert (code, out) == (1, "")
    assert "12000x12000" in err


@pytest.mark.parametrize("shape", [(2, 392), (1, 784), (784, 1), (28, 28, 1)])
def test_a_npy_of_another_shape_is_refused(tmp_path, model_file, shape, capsys):
    np.save(tmp_path / "digit.npy", np.zeros(shape, dtype=np.uint8))
    code, out, err = run_predict(capsys, model_file, tmp_path / "digit.npy")
    assert (code, out) == (1, "")
    assert str(shape) in err and "28x28 or 784" in err


def test_a_npy_header_claiming_a_huge_array_is_refused_unread(tmp_path, model_file, capsys):
    header = io.BytesIO()
    shape = (100_000, 1_000_000)
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    (tmp_path / "digit.npy").write_bytes(header.getvalue() + bytes(784 * 8))
    code, out, err = run_predict(capsys, model_file, tmp_path / "digit.npy")
    assert (code, out) == (1, "")
    assert str(shape) in err


def test_a_npy_of_the_right_shape_but_missing_data_is_refused(tmp_path, model_file, capsys):
    np.save(tmp_path / "digit.npy", np.zeros(784, dtype=np.uint8))
    data = (tmp_path / "digit.npy").read_bytes()
    (tmp_path / "digit.npy").write_bytes(data[:-100])
    code, _, err = run_predict(capsys, model_file, tmp_path / "digit.npy")
    assert code == 1 and "bytes" in err


def test_labels_from_a_model_file_are_printed_escaped(tmp_path, digits, capsys):
    pytest.importorskip("sklearn")
    from neural_network import MLPClassifier

    x, labels = digits
    names = np.array([f"\x1b]0;owned\x07{k}\x1b[2J" for k in range(10)])
    classifier = MLPClassifier(hidden_layer_sizes=(8,), max_iter=1, random_state=0)
    classifier.fit(x, names[labels]).save(tmp_path / "classifier.npz")
    np.save(tmp_path / "digit.npy", x[0])
    code, out, _ = run_predict(capsys, tmp_path / "classifier.npz", tmp_path / "digit.npy")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;owned\\x07" in out
    code, out, _ = run_predict(
        capsys, tmp_path / "classifier.npz", tmp_path / "digit.npy", "--json"
    )
    assert code == 0 and "\x1b" not in out
    assert json.loads(out)[0]["label"] in names.tolist()


def test_a_model_whose_outputs_are_not_finite_is_an_error(tmp_path, digits, capsys):
    model = build_mlp(784, [16], 10, rng=np.random.default_rng(0))
    for layer in model.layers:
        if hasattr(layer, "weight"):
            layer.weight.value[...] = 3e38
    model.save(tmp_path / "huge.npz")
    np.save(tmp_path / "digit.npy", digits[0][0])
    code, out, err = run_predict(capsys, tmp_path / "huge.npz", tmp_path / "digit.npy")
    assert (code, out) == (1, "")
    assert "not finite" in err and err.count("\n") == 1
