"""core.splits: every split is a partition, deterministic per seed, and keeps groups whole."""
from __future__ import annotations

import numpy as np
import pytest

from core import splits
from core.errors import UserError


def _partition(index: dict, n: int) -> None:
    joined = np.concatenate([index[s] for s in splits.SPLITS])
    assert sorted(joined.tolist()) == list(range(n)), "splits must partition range(n)"
    for s in splits.SPLITS:
        assert np.all(np.diff(index[s]) > 0), f"{s} not sorted/unique"


def _same(a: dict, b: dict) -> bool:
    return all(np.array_equal(a[s], b[s]) for s in splits.SPLITS)


def test_split_name_aliases_and_errors():
    assert [splits.split_name(v) for v in ("Train", " dev ", "VALIDATION", "testing", "", None)] == \
        ["train", "val", "val", "test", None, None]
    with pytest.raises(ValueError, match="unknown split value 'holdout'"):
        splits.split_name("holdout")


def test_sizes_give_every_nonzero_fraction_one_item():
    assert splits.split_sizes(3, 0.01, 0.01) == (1, 1, 1)
    assert splits.split_sizes(100, 0.1, 0.2) == (70, 10, 20)
    assert splits.split_sizes(10, 0.0, 0.2) == (8, 0, 2)


def test_check_fractions_names_both_options():
    splits.check_fractions(0.4, 0.5)
    with pytest.raises(UserError, match="val_fraction \\+ test_fraction = 1 leaves no training tiles"):
        splits.check_fractions(0.5, 0.5, "tiles")


def test_random_split_is_a_seeded_stratified_partition():
    y = np.repeat([0, 1, 2], [30, 60, 90])
    a = splits.random_split(len(y), 0.2, 0.2, seed=3, labels=y)
    _partition(a, len(y))
    assert _same(a, splits.random_split(len(y), 0.2, 0.2, seed=3, labels=y))
    assert not _same(a, splits.random_split(len(y), 0.2, 0.2, seed=4, labels=y))
    for s, share in (("test", 0.2), ("val", 0.2)):  # stratified: class shares kept to one item
        counts = np.bincount(y[a[s]], minlength=3)
        assert np.abs(counts - share * np.array([30, 60, 90])).max() <= 1, (s, counts)


def test_carve_falls_back_to_plain_random_when_a_class_cannot_be_split():
    y = np.array([0] * 9 + [1])  # one member of class 1: stratification impossible
    rest, part = splits.carve(y, 10, 0.3, seed=0)
    assert len(part) == 3 and sorted(np.r_[rest, part].tolist()) == list(range(10))


@pytest.mark.parametrize("split", [splits.balanced_group_split, splits.held_out_groups])
def test_group_splits_never_put_a_group_in_two_splits(split):
    rng = np.random.default_rng(0)
    groups = [f"g{v}" for v in rng.integers(0, 40, 400)]
    index = split(groups, 0.1, 0.2, 7)
    _partition(index, len(groups))
    owner = {}
    for s in splits.SPLITS:
        for i in index[s]:
            assert owner.setdefault(groups[i], s) == s, f"group {groups[i]} in {owner[groups[i]]} and {s}"
    assert _same(index, split(groups, 0.1, 0.2, 7)) and not _same(index, split(groups, 0.1, 0.2, 8))
    assert all(len(index[s]) for s in splits.SPLITS)


def test_balanced_group_split_places_a_big_group_first_and_whole():
    groups = ["c1ccccc1"] * 30 + [f"s{i}" for i in range(70)]  # one scaffold too big for half of val or test
    index = splits.balanced_group_split(groups, 0.1, 0.1, 3)
    assert [s for s in splits.SPLITS if (index[s] < 30).any()] == ["train"] and (index["train"] < 30).sum() == 30


def test_held_out_groups_needs_three_groups():
    with pytest.raises(UserError, match="only 2 speakers .* pass --split random"):
        splits.held_out_groups(["a", "b", "a"], 0.2, 0.2, 0, what="speakers", fix="pass --split random")


def test_fill_missing_keeps_a_given_split_and_carves_only_what_is_missing():
    given = ["train"] * 8 + ["test"] * 2

    def carve_from(pool, what, share):
        return splits.carve(None, len(pool), share, 0)

    index = splits.fill_missing(given, 0.25, 0.5, carve_from)
    assert index["test"].tolist() == [8, 9]  # kept, never carved again
    assert len(index["val"]) == 2 and set(index["val"]) <= set(range(8))
    _partition(index, 10)
    with pytest.raises(UserError, match="item 1 has no split while others do"):
        splits.fill_missing(["train", None], 0.1, 0.1, carve_from, source="x.csv")
    with pytest.raises(UserError, match="x.csv: record rec2 has no split"):
        splits.fill_missing(["train", None], 0.1, 0.1, carve_from, source="x.csv", ids=["rec1", "rec2"])


def test_require_nonempty_names_the_empty_split():
    with pytest.raises(UserError, match="corpus.csv: the val split is empty"):
        splits.require_nonempty({"train": [0], "val": [], "test": [1]}, "corpus.csv", 2)
