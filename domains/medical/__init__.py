"""Medical imaging: CT/MRI volumes and radiographs with spacing, orientation and intensity physics.

Sample contract for volumes (the value under ``sample["volume"]``)::

    {
        "values": FloatTensor[1, X, Y, Z],   # canonical RAS+ voxel order, normalised intensities
        "spacing": FloatTensor[3],           # voxel size in millimetres along X, Y, Z
        "affine": DoubleTensor[4, 4],        # voxel index -> RAS+ millimetres of this array
    }

Radiographs (the value under ``sample["image"]``)::

    {
        "values": FloatTensor[1, H, W],      # normalised intensities
        "spacing": FloatTensor[2],           # pixel size in millimetres (1.0 when unknown)
    }

plus ``sample["label"]`` when labelled, ``sample["patient"]`` (str, splits never separate a
patient's samples) and, for image-report pairs, ``sample["report"]`` (str). Batches stack the
tensors (``values`` ``[B, 1, X, Y, Z]``, ``spacing`` ``[B, 3]``); reports collate to a list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from foundations.registry import DomainPlugin

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "medical"
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PNEUMONIAMNIST = SHARED_DATA / "pneumoniamnist" / "pneumoniamnist.npz"
"""The small real chest X-ray set next to the project (../shared/data); override with --data."""

_PHANTOMS: dict[str, Any] = {
    "class_path": "domains.medical.datamodules.VolumeFolderDataModule",
    "init_args": {"num_samples": 2000, "size": 32, "batch_size": 32},
}

PHANTOM_PROMPTS: dict[str, list[str]] = {
    "none": [
        "No focal lesion in the liver or kidneys.",
        "Liver and kidneys are unremarkable.",
        "No focal hepatic or renal abnormality identified.",
        "Unremarkable solid organs; no focal lesion.",
        "Homogeneous liver parenchyma. Kidneys normal in size without focal lesion.",
    ],
    "cyst": [
        "Well-circumscribed fluid-attenuation lesion in the liver, consistent with a simple cyst.",
        "Simple cyst in the right hepatic lobe.",
        "Sharply marginated hypodense lesion of water density in the kidney, likely a cyst.",
        "Cyst of the liver without enhancing component.",
    ],
    "solid": [
        "Lobulated soft-tissue lesion in the liver; further characterisation recommended.",
        "Solid mass with irregular margins in the right hepatic lobe.",
        "Ill-defined solid nodule in the kidney, indeterminate.",
        "Heterogeneous soft-tissue density lesion in the liver, suspicious.",
    ],
    "calcified": [
        "Lesion with peripheral rim calcification in the liver.",
        "Rim-calcified cystic lesion in the kidney.",
        "Dense calcified focus in the right hepatic lobe, likely a granuloma.",
        "Punctate calcification in the liver.",
        "Calcified nodule in the kidney, benign appearance.",
    ],
}
"""Zero-shot prompts per lesion class (class-index order of ``phantoms.LESION_CLASSES``), worded
like the generated reports' findings (``phantoms._reports``) without sizes."""

plugin = DomainPlugin(
    name="medical",
    description="CT/MRI volumes and radiographs: spacing, orientation, HU windows, reports",
    datasets={
        "volume_folder": "domains.medical.datamodules.VolumeFolderDataModule",
        "medmnist": "domains.medical.datamodules.MedMNISTDataModule",
    },
    tokenizers={
        "patch3d": "domains.medical.tokenizer.PatchTokenizer3d",
        "radiograph": "domains.medical.tokenizer.RadiographTokenizer",
        "slice_adapter": "domains.medical.tokenizer.SliceAdapter",
        "text": "domains.medical.text.TextEncoder",
    },
    transforms={
        "volume_views": "domains.medical.augment.VolumeViews",
        "radiograph_views": "domains.medical.augment.RadiographViews",
        "volume_preprocess": "domains.medical.transforms.VolumePreprocess",
    },
    recipes_dir=RECIPES,
    benchmarks={
        "med-phantoms": {
            "description": "lesion type in synthetic CT phantoms (none, cyst, solid, calcified)",
            "datamodule": _PHANTOMS,
            "split": "grouped by patient, 60/20/20",
            "classical_baseline": "domains.medical.baselines.volume_intensity_features",
            "classical_classifier": "gradient_boosting",
            "primary_metric": "balanced_accuracy",
        },
        "med-phantoms-zeroshot": {
            "description": "lesion type in synthetic CT phantoms, zero-shot from report-style "
            "prompts (image-report checkpoints) next to linear and kNN probes",
            "datamodule": _PHANTOMS,
            "split": "grouped by patient, 60/20/20",
            "protocols": ["linear", "knn", "zeroshot"],
            "zero_shot_prompts": PHANTOM_PROMPTS,
            "raw_baseline": False,
            "primary_metric": "balanced_accuracy",
        },
        "pneumoniamnist": {
            "description": "PneumoniaMNIST chest X-rays, normal vs pneumonia, 28 px",
            "datamodule": {
                "class_path": "domains.medical.datamodules.MedMNISTDataModule",
                "init_args": {"path": str(PNEUMONIAMNIST), "batch_size": 256},
            },
            "task": "binary",
            "split": "official MedMNIST v2 train/val/test (4708/524/624)",
            "classical_baseline": "domains.medical.baselines.radiograph_features",
            "classical_classifier": "gradient_boosting",
            "primary_metric": "auroc",
        },
    },
)
