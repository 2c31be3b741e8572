import numpy as np

from ganspect.benchmark import markdown_table, stratified_sample
from ganspect.cli import main


def test_stratified_sample_takes_the_same_count_of_each_class_reproducibly():
    classes = np.repeat(np.arange(10), 50)
    idx = stratified_sample(classes, 7)
    assert np.bincount(classes[idx]).tolist() == [7] * 10
    assert np.array_equal(idx, stratified_sample(classes, 7))


def test_table_has_a_mean_per_detector_and_the_published_rows():
    rows = [
        {"detector": "ognet", "digit": d, "auroc": a, "test_set": "full", "fit_seconds": 10, "score_ms_per_image": 0.1}
        for d, a in [(0, 0.9), (1, 0.8)]
    ]
    table = markdown_table(rows)
    assert "| ognet | 0.900 | 0.800 | **0.850** | full |" in table
    # published rows give the same digits and their mean over those digits: AnoGAN 0.966, 0.992 -> 0.979
    assert "| 0.966 | 0.992 | 0.979 | full |" in table and "OCGAN" in table


def test_unknown_detector_is_named(tmp_path, capsys):
    code = main(["-q", "benchmark", "one-class-mnist", "--data", str(tmp_path), "--out", str(tmp_path / "o"),
                 "--detectors", "anogan-foo"])  # fmt: skip
    assert code == 2 and "anogan-foo" in capsys.readouterr().err
