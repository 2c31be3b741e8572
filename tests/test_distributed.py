"""Data-parallel training on 2 CPU processes (gloo) through lightning-fabric's DDP."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import ganspect

SETTINGS = dict(image_size=16, width=32, latent_dim=32, steps=60, batch_size=16, mapping="encoder",
                threshold_images=64, device="cpu")  # fmt: skip

SCRIPT = textwrap.dedent(
    """
    import sys, torch, ganspect
    from ganspect.data import one_class_digits
    out = sys.argv[1]
    torch.set_num_threads(1)
    # batch 8 per process: the same 16 images per step, and the same steps, as the 1-process run
    det = ganspect.AnoGAN(**{{**{settings}, "batch_size": 8}}, devices=2, strategy="ddp")
    det.fit(one_class_digits(0).train)
    # every process writes its own weights, so the test can compare them
    weights = {{n: getattr(det, n + "_").state_dict() for n in det.network_names}}
    torch.save(weights, f"{{out}}/rank{{det.global_rank_}}.pt")
    if det.global_rank_ == 0:
        det.save(f"{{out}}/model.pt")
    """
)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    script = out / "train.py"
    script.write_text(SCRIPT.format(settings=SETTINGS))
    result = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def test_both_processes_end_with_identical_weights(two_process_run):
    a = torch.load(two_process_run / "rank0.pt", weights_only=True)
    b = torch.load(two_process_run / "rank1.pt", weights_only=True)
    for net in a:
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), f"{net}.{key} differs between the processes"


def test_two_processes_score_like_one(two_process_run, digits):
    two = ganspect.load(two_process_run / "model.pt")
    assert two.devices == 2 and two.strategy == "ddp"
    one = ganspect.AnoGAN(**SETTINGS).fit(digits.train)
    auroc_two = roc_auc_score(digits.test_labels, two.score(digits.test))
    auroc_one = roc_auc_score(digits.test_labels, one.score(digits.test))
    print(f"digits, 0 normal: AUROC 1 process {auroc_one:.4f}, 2 processes {auroc_two:.4f}")
    assert abs(auroc_two - auroc_one) < 0.05 and auroc_two > 0.9


def test_shards_are_disjoint_and_each_round_starts_a_fresh_permutation():
    from ganspect.train import ShardSampler

    shares = [list(ShardSampler(10, r, 3, torch.Generator().manual_seed(0), 3)) for r in range(3)]
    assert all(len(s) == 3 for s in shares)
    assert len(set(np.concatenate(shares))) == 9  # one permutation, shared out without overlap
    # a round longer than the set chains permutations: every image is seen once before any is seen twice
    long = list(ShardSampler(10, 0, 1, torch.Generator().manual_seed(0), 25))
    assert len(long) == 25 and sorted(long[:10]) == list(range(10)) and sorted(long[10:20]) == list(range(10))
