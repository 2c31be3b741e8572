import os
import pickle

import pytest
import torch

import ganspect
from ganspect.checkpoint import atomic_output, read_checkpoint


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "ganspect", "version": 1, "payload": _Exploit()}, path)
    with pytest.raises(ValueError, match="refused to load"):
        ganspect.load(path)


def test_truncated_file_says_so(tmp_path):
    path = tmp_path / "cut.pt"
    torch.save({"format": "ganspect", "version": 1, "weights": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ValueError, match="truncated"):
        read_checkpoint(path)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_foreign_files_say_so(tmp_path):
    torch.save({"state_dict": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a ganspect model"):
        ganspect.load(tmp_path / "other.pt")
    (tmp_path / "notes.pt").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match="notes.pt"):
        ganspect.load(tmp_path / "notes.pt")
    with pytest.raises(ValueError, match="no such model file"):
        ganspect.load(tmp_path / "missing.pt")


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("good")
    with pytest.raises(RuntimeError), atomic_output(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert path.read_text() == "good"
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind
