"""Choosing a detector without labels (`ganspect.select`, `ganspect select`): comparable candidates only, every one
rated on a fresh draw of defects none trains on, the highest kept; on a real texture it keeps the baseline that the
test figures rank first."""

import numpy as np
import pytest
from benchmarks.textures import texture_split
from PIL import Image
from sklearn.metrics import roc_auc_score

import ganspect
from ganspect.cli import main, parse_candidate
from ganspect.data import as_dataset
from ganspect.metrics import pixel_auroc
from ganspect.selection import FRESH_DRAW, SELECTION_DEFECTS
from ganspect.synthetic import defect_kinds
from ganspect.validation import Validation, split_indices

from .conftest import TEXTURES, need


def test_select_keeps_the_highest_proxy_on_a_fresh_draw(digits):
    images = digits.train[:40]
    given = [ganspect.PixelGaussian(image_size=16, seed=3), ganspect.PCAReconstruction(image_size=16, seed=3)]
    found = ganspect.select(given, images)
    assert [r["name"] for r in found.table] == ["PixelGaussian", "PCAReconstruction"]
    assert found.name == max(found.table, key=lambda r: r["proxy"])["name"]
    assert found.best is found.fitted[found.name]
    assert all(not hasattr(det, "threshold_") for det in given)  # the candidates given stay unfitted
    # each row is the fitted candidate measured again, on other defects than those its own fit chose on
    data = as_dataset(images, 1, 16)
    held = split_indices(len(data), 0.2, 256, 3)[1]
    fresh = Validation(data, held, 3 + FRESH_DRAW, defect_kinds(SELECTION_DEFECTS))
    for row in found.table:
        det = found.fitted[row["name"]]
        assert det.validation_defects == SELECTION_DEFECTS
        assert row["proxy"] == pytest.approx(fresh.measure(det, det.score_rule_)["proxy"])
    assert found.best.validation_["selection_proxy"] == max(r["proxy"] for r in found.table)
    assert found.best.score(digits.test[:5]).shape == (5,)
    assert "<- chosen" in found.summary()


@pytest.mark.parametrize(("field", "value"), [("seed", 1), ("image_size", 24), ("validation_split", 0.3)])
def test_select_refuses_candidates_that_hold_out_other_images(digits, field, value):
    other = ganspect.PCAReconstruction(**{"image_size": 16} | {field: value})
    with pytest.raises(ValueError, match=rf"^{field}: every candidate must hold out the same images.*'PCAReconst"):
        ganspect.select([ganspect.PixelGaussian(image_size=16), other], digits.train[:20])


def test_select_refuses_a_family_a_candidate_trains_on_before_any_training(digits):
    candidates = {
        "gaussian": ganspect.PixelGaussian(image_size=16),
        "repair": ganspect.RepairGAN(image_size=16, crop_size=16),
    }
    with pytest.raises(ValueError, match="also trained on"):
        ganspect.select(candidates, digits.train[:20], validation_defects="blob,speck")
    with pytest.raises(ValueError, match="^validation_split"):
        ganspect.select([ganspect.PixelGaussian(image_size=16, validation_split=0)], digits.train[:20])


def test_select_on_brick_keeps_the_baseline_the_test_ranks_first():
    """Brick, the textures benchmark's split (test defects of kinds no detector trains on or validates on): the
    Gaussian and PCA cannot model an unaligned texture (image AUROC 0.63 and 0.62), local statistics can (0.95);
    the label-free choice must keep local statistics, and the test must agree. A few seconds."""
    split = texture_split(need(TEXTURES), "brick")
    candidates = [ganspect.PixelGaussian(image_size=128), ganspect.PCAReconstruction(image_size=128)]
    candidates.append(ganspect.LocalStatistics(image_size=128))
    found = ganspect.select(candidates, split["train"])
    tested = {}
    for name, det in found.fitted.items():
        scores, maps = det.score_and_map(split["test"])
        image = roc_auc_score(split["labels"].numpy(), scores)
        tested[name] = (image, pixel_auroc(list(split["masks"].numpy()), list(maps)))
    print("brick:", found.summary(), tested)
    assert found.name == "LocalStatistics"
    assert tested["LocalStatistics"][0] > max(tested["PixelGaussian"][0], tested["PCAReconstruction"][0]) + 0.2


def test_candidate_specs_read_like_fit_flags():
    shared = {"channels": 3, "image_size": 32, "seed": 4}
    det = parse_candidate("anogan:mapping=encoder,steps=40,augment=none,generator-average=0.9", shared)
    assert (det.mapping, det.steps, det.augment, det.generator_average) == ("encoder", 40, None, 0.9)
    assert (det.channels, det.image_size, det.seed) == (3, 32, 4)
    assert parse_candidate("repairgan:defects=blob,scar,augment=true", shared).defects == "blob,scar"
    for spec, message in [
        ("svm", "unknown detector 'svm'"),
        ("pca:colour=2", "no setting 'colour'"),
        ("pca:variance=most", "variance expects a float"),
        ("ognet:augment=maybe", "augment expects true or false"),
        ("pca:variance", "expected field=value"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_candidate(spec, shared)


def test_select_through_the_command_line(tmp_path, digits, capsys):
    root = tmp_path / "data"
    (root / "train" / "good").mkdir(parents=True)
    for i, image in enumerate(digits.train[:30]):
        Image.fromarray(image).save(root / "train" / "good" / f"{i:03d}.png")
    model = tmp_path / "chosen.pt"
    command = ["-q", "select", str(root), "-o", str(model), "--image-size", "16", "--seed", "2"]
    assert main([*command, "--candidates", "gaussian", "pca:variance=0.5", "pca"]) == 0
    out = capsys.readouterr().out
    chosen = out.strip().splitlines()[-1]
    assert chosen.startswith("chose ") and chosen.endswith(str(model))
    assert out.count("proxy ") == 3 and out.count("<- chosen") == 1
    det = ganspect.load(model)
    assert (
        chosen.split()[1].split(":")[0] == {"PixelGaussian": "gaussian", "PCAReconstruction": "pca"}[type(det).__name__]
    )
    assert det.seed == 2 and np.isfinite(det.score(digits.test[:3])).all()
    # a bad candidate is named in one line, before anything is trained or written
    model.unlink()
    assert main([*command, "--candidates", "gaussian", "pca:components=3"]) == 2
    assert "no setting 'components'" in capsys.readouterr().err and not model.exists()


def test_select_rates_on_known_defects_when_given(digits):
    """Real defective images (here other digits) replace the synthetic ones in the image half of the rating."""
    candidates = [ganspect.PixelGaussian(image_size=16), ganspect.PCAReconstruction(image_size=16)]
    found = ganspect.select(candidates, digits.train[:40], known_defects=digits.test[digits.test_labels == 1][:5])
    for row in found.table:
        assert 0 <= row["known_auroc"] <= 1
        assert row["proxy"] == pytest.approx((row["known_auroc"] + row["proxy_pixel_auroc"]) / 2)
        assert found.fitted[row["name"]].validation_["known_defects"] == 5
    assert "known-defect AUROC" in found.summary()
