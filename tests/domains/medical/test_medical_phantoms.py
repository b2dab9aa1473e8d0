"""The phantom generator: determinism, files, lesion attenuation and visibility, reports."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from domains.medical.io import Volume, read_nifti
from domains.medical.phantoms import (
    GENERATOR_VERSION,
    LESION_CLASSES,
    Phantom,
    generate_phantoms,
    write_phantom_folder,
)
from domains.medical.transforms import FixedSize, VolumePreprocess, ct_window

TYPE_WORDS = {
    "cyst": ("cyst",),
    "solid": ("solid", "soft-tissue"),
    "calcified": ("calcif",),
}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Small volumes preprocess several times faster on one torch thread (as in workers)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def phantoms() -> list[tuple[str, Phantom]]:
    return list(generate_phantoms(48, seed=11))


def test_deterministic_per_seed() -> None:
    first = list(generate_phantoms(5, seed=3))
    again = list(generate_phantoms(5, seed=3))
    other = list(generate_phantoms(5, seed=4))
    for (patient, a), (patient_again, b) in zip(first, again, strict=True):
        assert patient == patient_again and a.report == b.report and a.storage == b.storage
        np.testing.assert_array_equal(a.values, b.values)
        np.testing.assert_array_equal(a.affine, b.affine)
    assert not np.array_equal(first[0][1].values, other[0][1].values)
    with pytest.raises(ValueError, match="num_volumes must be positive"):
        list(generate_phantoms(0))


def test_classes_patients_and_geometry(phantoms: list[tuple[str, Phantom]]) -> None:
    labels = np.array([p.label for _, p in phantoms])
    assert set(labels.tolist()) == set(range(len(LESION_CLASSES)))
    by_patient: dict[str, set[int]] = {}
    for patient, phantom in phantoms:
        by_patient.setdefault(patient, set()).add(phantom.label)
        x, y, z = phantom.values.shape
        assert (x, y) == (48, 48) and 16 <= z <= 40
        assert phantom.values.dtype == np.float32
        assert 0.7 <= phantom.spacing[0] <= 1.0 and 1.5 <= phantom.spacing[2] <= 4.0
        assert phantom.values.min() >= -1024
    assert all(len(labels) == 1 for labels in by_patient.values())  # one lesion per patient
    assert len(by_patient) < len(phantoms)  # several scans per patient
    assert len({p.storage for _, p in phantoms}) >= 3 and len({p.dtype for _, p in phantoms}) == 3


def test_lesion_attenuation(phantoms: list[tuple[str, Phantom]]) -> None:
    for _, phantom in phantoms:
        kind = LESION_CLASSES[phantom.label]
        if kind == "none":
            assert not phantom.lesion_mask.any() and phantom.organ == ""
            continue
        core = phantom.values[phantom.lesion_mask > 0.9].mean()  # noise averages out
        assert phantom.organ in ("liver", "right kidney", "left kidney")
        if kind == "cyst":  # water, +-20 HU scanner offset, below the host organ
            assert -45 < core < 45 and core < phantom.host_hu - 12
        elif kind == "solid":  # soft tissue, clearly different from the host organ
            assert 0 < core < 160 and abs(core - phantom.host_hu) > 12
        else:  # dense calcium somewhere in the lesion
            assert phantom.values[phantom.lesion_mask > 0.5].max() > 230


def test_lesions_visible_after_default_preprocessing(
    phantoms: list[tuple[str, Phantom]],
) -> None:
    preprocess = VolumePreprocess()  # soft-tissue window, 32^3
    for _, phantom in phantoms:
        kind = LESION_CLASSES[phantom.label]
        if kind == "none":
            continue
        volume = Volume(phantom.values, phantom.affine, phantom.spacing)
        out = preprocess.apply(volume).values
        mask = FixedSize((32, 32, 32))(Volume(phantom.lesion_mask, volume.affine, volume.spacing))
        assert (mask.values > 0.5).sum() >= 4, "lesion vanished at 32^3"
        core = mask.values >= min(0.75, float(mask.values.max()))  # little partial volume
        host = ct_window(np.array([phantom.host_hu]), "soft_tissue")[0]
        if kind == "cyst":  # >= 20 HU darker
            assert out[core].mean() < host - 0.05
        elif kind == "solid":  # kidney lesions in perirenal fat are the faintest (~10 HU)
            assert abs(out[core].mean() - host) > 0.015
        else:  # near the top of the window
            assert out[mask.values > 0.2].max() > 0.7


def test_reports_vary_and_sometimes_hide_the_type(
    phantoms: list[tuple[str, Phantom]],
) -> None:
    hidden = 0
    for _, phantom in phantoms:
        kind = LESION_CLASSES[phantom.label]
        text = phantom.report.lower()
        if kind == "none":
            assert re.search(r"(no|without) focal|unremarkable", text)
            continue
        assert f"{phantom.diameter_mm:.0f} mm" in text or "see key images" in text
        assert ("kidney" in text) == ("kidney" in phantom.organ)
        hidden += not any(word in text for word in TYPE_WORDS[kind])
    assert 0 < hidden < len(phantoms) / 2
    assert len({p.report for _, p in phantoms}) > len(phantoms) * 0.8


def test_folder_layout_and_files_read_back(tmp_path: Path) -> None:
    root = write_phantom_folder(tmp_path / "phantoms", 10, seed=2)
    assert (root / "classes.txt").read_text().split() == list(LESION_CLASSES)
    assert f'"generator_version": {GENERATOR_VERSION}' in (root / "dataset.json").read_text()
    with open(root / "labels.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 10
    assert list(rows[0])[:4] == ["path", "label", "patient", "report"]
    generated = list(generate_phantoms(10, seed=2))
    for row, (patient, phantom) in zip(rows, generated, strict=True):
        assert row["patient"] == patient and row["label"] == LESION_CLASSES[phantom.label]
        assert row["report"] == phantom.report
        volume = read_nifti(root / row["path"])  # stored in any voxel order: canonical again
        np.testing.assert_allclose(volume.affine, phantom.affine, atol=1e-4)
        np.testing.assert_allclose(volume.values, phantom.values, atol=0.51)  # int rounding
    assert not list(tmp_path.glob(".phantoms*"))  # no temporary folder left behind
    assert write_phantom_folder(root, 10, seed=2) == root  # reused as is
