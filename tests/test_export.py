"""ONNX export: onnxruntime gives the PyTorch model's scores and maps on real images, in both modes."""

import numpy as np
import pytest

import ganspect
from ganspect.cli import main
from ganspect.export import export_onnx, score_with_onnx

pytest.importorskip("onnxruntime", reason="the [onnx] extra is not installed")

MODELS = {
    "OGNet": lambda: ganspect.OGNet(image_size=16, width=8, steps=4, rounds=2, old_round=1, phase_two_steps=5,
                                    threshold_images=8, device="cpu"),
    "AnoGAN-encoder-patches": lambda: ganspect.AnoGAN(image_size=32, patch_size=16, patch_stride=6, width=8,
                                                      latent_dim=16, steps=4, rounds=2, mapping="encoder",
                                                      threshold_images=8, device="cpu"),
    # the image score read off the smoothed map, in the graph (whole images) and after stitching (patches)
    "OGNet-smoothed-map": lambda: ganspect.OGNet(image_size=16, width=8, steps=4, rounds=2, old_round=1,
                                                 phase_two_steps=5, map_sigma=1.0, image_score="map",
                                                 threshold_images=8, device="cpu"),
    "AnoGAN-encoder-patches-map": lambda: ganspect.AnoGAN(image_size=32, patch_size=16, width=8, latent_dim=16, steps=4,
                                                          rounds=2, mapping="encoder", map_sigma=1.5, image_score="map",
                                                          threshold_images=8, device="cpu"),
    # maps standardised by the normal maps: in the graph (whole images) and after stitching (patches)
    "OGNet-reference": lambda: ganspect.OGNet(image_size=16, width=8, steps=4, rounds=2, old_round=1,
                                              phase_two_steps=5, map_reference=True, image_score="map",
                                              threshold_images=8, device="cpu"),
    "AnoGAN-encoder-patches-reference": lambda: ganspect.AnoGAN(image_size=32, patch_size=16, width=8, latent_dim=16,
                                                                steps=4, rounds=2, mapping="encoder",
                                                                map_reference=True, threshold_images=8, device="cpu"),
    # the verdict read off the standardised map, the map shown plain: in the graph and after stitching
    "OGNet-reference-rule": lambda: ganspect.OGNet(image_size=16, width=8, steps=4, rounds=2, old_round=1,
                                                   phase_two_steps=5, map_sigma=1.0, image_score="reference",
                                                   threshold_images=8, device="cpu"),
    "AnoGAN-encoder-patches-reference-rule": lambda: ganspect.AnoGAN(image_size=32, patch_size=16, width=8,
                                                                     latent_dim=16, steps=4, rounds=2,
                                                                     mapping="encoder", image_score="reference",
                                                                     threshold_images=8, device="cpu"),
    "PixelGaussian": lambda: ganspect.PixelGaussian(image_size=16, device="cpu"),
    "RepairGAN": lambda: ganspect.RepairGAN(image_size=32, crop_size=16, width=4, steps=4, rounds=2,
                                            threshold_images=8, device="cpu"),
    "RepairGAN-repair-verdict": lambda: ganspect.RepairGAN(image_size=32, crop_size=16, width=4, steps=4, rounds=2,
                                                           verdict="repair", threshold_images=8, device="cpu"),
    # four views in one pass, flipped back in the graph
    "RepairGAN-mirror-views": lambda: ganspect.RepairGAN(image_size=32, crop_size=16, width=4, steps=4, rounds=2,
                                                         mirror_views=True, threshold_images=8, device="cpu"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_scores_and_maps_match_pytorch(name, digits, tmp_path):
    det = MODELS[name]().fit(digits.train)
    export_onnx(det, tmp_path / "m.onnx")
    scores, maps = det.score_and_map(digits.test[:100])
    onnx_scores, onnx_maps = score_with_onnx(tmp_path / "m.onnx", det, digits.test[:100])
    # float32 kernels differ in summation order: at most 3e-7 (scores) and 6e-8 (maps) measured on plain maps; maps
    # standardised by the normal ones (map_reference) reach 16 here, dividing the residual's rounding by spreads as
    # small as 0.005, and differ by up to 1.5e-5 (AnoGAN's averaged G), so the maps' tolerance follows their scale
    np.testing.assert_allclose(onnx_scores, scores, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(onnx_maps, maps, rtol=0, atol=1e-5 * max(1.0, float(np.abs(maps).max())))


def test_the_latent_search_is_refused_clearly(digits, tmp_path, capsys):
    det = ganspect.AnoGAN(image_size=16, width=8, latent_dim=8, steps=2, rounds=1, search_steps=2, threshold_images=4,
                          device="cpu").fit(digits.train)  # fmt: skip
    det.save(tmp_path / "search.pt")
    assert main(["-q", "export", str(tmp_path / "search.pt"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "mapping='encoder'" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()


def test_the_encoders_refinement_is_refused_clearly(digits, tmp_path):
    det = ganspect.AnoGAN(image_size=16, width=8, latent_dim=8, steps=2, rounds=1, mapping="encoder", refine_steps=3,
                          threshold_images=4, device="cpu").fit(digits.train)  # fmt: skip
    with pytest.raises(ValueError, match="refine_steps = 0"):
        export_onnx(det, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
    det.refine_steps = 0  # a scoring field: the same fitted networks, E(x) alone, export
    export_onnx(det, tmp_path / "x.onnx")
    onnx_scores, _ = score_with_onnx(tmp_path / "x.onnx", det, digits.test[:20])
    np.testing.assert_allclose(onnx_scores, det.score(digits.test[:20]), rtol=1e-5, atol=1e-5)
