"""write_medical: sequences and images round-trip with their spacing; single files appear atomically."""

from __future__ import annotations

import numpy as np
import pytest

from synthboost.data.imageio.medical import read_medical, read_medical_array, write_medical


@pytest.mark.parametrize("name", ["seq.nii.gz", "seq.nii", "seq.mha", "seq.mhd"])
def test_sequence_round_trips_with_its_spacing(tmp_path, name):
    arr = (np.arange(3 * 5 * 7) % 256).astype(np.uint8).reshape(3, 5, 7)
    write_medical(tmp_path / name, arr, (0.3, 0.4))
    back, spacing = read_medical_array(tmp_path / name)
    np.testing.assert_array_equal(back, arr)
    assert spacing == pytest.approx((1.0, 0.3, 0.4))
    leftovers = {p.name for p in tmp_path.iterdir()} - {name, "seq.raw"}
    assert not leftovers, leftovers


def test_image_round_trips(tmp_path):
    arr = np.eye(6, 4, dtype=np.uint8) * 200
    write_medical(tmp_path / "im.nii.gz", arr, (0.5, 0.25))
    back, spacing = read_medical(tmp_path / "im.nii.gz")
    np.testing.assert_array_equal(back, arr)
    assert spacing == pytest.approx((0.5, 0.25))
