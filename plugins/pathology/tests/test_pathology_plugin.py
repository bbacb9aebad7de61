"""The entry module is light, the hooks match the host contract, the embedded default is as documented."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import UserError
from core.testing import assert_entry_module_light


def test_entry_module_is_light():
    assert_entry_module_light("core_pathology.plugin",
                              heavy=("torch", "monai", "tifffile", "skimage", "h5py", "sklearn", "PIL"))


def test_contract(core_check_contract):
    report = core_check_contract("pathology")
    assert not report.failures and len(report.results) >= 14


def test_embedded_default_tiles_labels_and_split():
    from core_pathology.datasets import load_tiles

    data = load_tiles(None)
    sizes = {s: len(d) for s, d in data.splits.items()}
    assert sizes["train"] + sizes["val"] + sizes["test"] == 680 and sizes["pretrain"] == sizes["train"] + sizes["val"]
    assert data.task.kind == "regression" and data.task.class_names == ("tissue_fraction", "haematoxylin", "dab")
    assert "Otsu" in data.source and "rgb2hed" in data.source and "spatial blocks" in data.source
    slides = {s: data.splits[s].metadata()["slide_id"] for s in ("train", "val", "test")}
    assert all(set(v) == {"cmu_small_region", "tiatoolbox_target", "skimage_ihc"} for v in slides.values())
    y = np.concatenate([data.splits[s].targets for s in ("train", "val", "test")])
    ihc = np.concatenate([np.array(slides[s]) == "skimage_ihc" for s in ("train", "val", "test")])
    assert y[ihc, 2].mean() > y[~ihc, 2].mean() + 0.01  # DAB only in the IHC image
    assert 0.05 < (y[:, 0] < 0.5).mean() < 0.6  # background tiles exist (the SVS's glass)
    from core_pathology.splits import spatial_blocks

    def blocks(split):
        m = data.splits[split].metadata()
        return set(spatial_blocks(m["slide_id"], m["x"], m["y"], m["footprint"], block_tiles=4))

    assert not blocks("train") & blocks("test") and not blocks("val") & blocks("test")
    assert not blocks("train") & blocks("val")
    ids = {s: set(data.splits[s].ids) for s in ("train", "val", "test")}
    assert not ids["train"] & ids["test"] and not ids["val"] & ids["test"]
    with pytest.raises(UserError, match="embedded and takes no --data"):
        load_tiles("/tmp")
