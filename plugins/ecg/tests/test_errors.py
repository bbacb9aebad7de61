"""Every user error is one line naming the file/record; skip mode lists what it dropped."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import BadRecord, UserError
from core_ecg.datasets import load_ecg5000, load_records
from core_ecg.synthetic import beat, write_wfdb


def load(path, on_bad_record="error", **options):
    return load_records(str(path), seed=0, on_bad_record=on_bad_record, options=options)


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg and msg
    return msg


def test_bad_path(tmp_path):
    with pytest.raises(UserError) as err:
        load(tmp_path / "nowhere")
    assert "nowhere" in one_line(err) and "--data" in one_line(err)
    with pytest.raises(UserError) as err:
        load(tmp_path)  # an empty folder
    assert str(tmp_path) in one_line(err)
    with pytest.raises(UserError) as err:
        load_records(None, seed=0, on_bad_record="error", options={})
    assert "--data" in one_line(err)


def test_ecg5000_takes_no_path(tmp_path):
    with pytest.raises(UserError) as err:
        load_ecg5000(str(tmp_path), seed=0, on_bad_record="error", options={})
    assert "ecg/records" in one_line(err)


def test_bad_options(wfdb_dir):
    for options, word in (({"bogus": 1}, "bogus"), ({"fs": "fast"}, "fs"), ({"length": "-3"}, "length"),
                          ({"val_fraction": "1.5"}, "val_fraction"), ({"sampling": "250"}, "sampling"),
                          ({"task": "ranking"}, "task")):
        with pytest.raises(UserError) as err:
            load(wfdb_dir, **options)
        assert word in one_line(err)
    with pytest.raises(UserError) as err:
        load_ecg5000(None, seed=0, on_bad_record="error", options={"leads": "I"})
    assert "leads" in one_line(err)


def test_malformed_wfdb_header(wfdb_dir):
    (wfdb_dir / "rec05.hea").write_text("this is not a header\n")
    with pytest.raises(BadRecord) as err:
        load(wfdb_dir)
    assert "rec05" in one_line(err) and "WFDB" in one_line(err)
    ds = load(wfdb_dir, on_bad_record="skip")
    assert [r for r, _ in ds.skipped] == [str(wfdb_dir / "rec05")]
    assert "rec05" not in {i for s in ds.splits.values() for i in s.ids}


def test_missing_signal_file(wfdb_dir):
    (wfdb_dir / "rec07.dat").unlink()
    with pytest.raises(BadRecord) as err:
        load(wfdb_dir)
    assert "rec07" in one_line(err)


def test_nan_in_wfdb_signal(wfdb_dir, rng):
    x = beat(rng, 500, 250, 0)
    x[100:110, 1] = np.nan
    write_wfdb(wfdb_dir, "rec04", x, 250)
    with pytest.raises(BadRecord) as err:
        load(wfdb_dir)
    assert "rec04" in one_line(err) and "NaN" in one_line(err)
    ds = load(wfdb_dir, on_bad_record="skip")
    assert [r for r, _ in ds.skipped] == [str(wfdb_dir / "rec04")]


def test_labels_file_missing(wfdb_dir):
    (wfdb_dir / "labels.csv").unlink()
    with pytest.raises(UserError) as err:
        load(wfdb_dir)
    assert "labels.csv" in one_line(err) and "record,label" in one_line(err)
    with pytest.raises(UserError) as err:
        load(wfdb_dir, labels=str(wfdb_dir / "other.csv"))
    assert "other.csv" in one_line(err)


def test_labels_file_wrong_columns(wfdb_dir):
    (wfdb_dir / "labels.csv").write_text("name,class\nrec00,A\n")
    with pytest.raises(UserError) as err:
        load(wfdb_dir)
    assert "labels.csv" in one_line(err) and "record,label" in one_line(err)


def test_record_without_label(wfdb_dir):
    lines = (wfdb_dir / "labels.csv").read_text().splitlines()
    (wfdb_dir / "labels.csv").write_text("\n".join(l for l in lines if not l.startswith("rec02,")) + "\n")
    with pytest.raises(BadRecord) as err:
        load(wfdb_dir)
    assert "rec02" in one_line(err) and "label" in one_line(err)
    ds = load(wfdb_dir, on_bad_record="skip")
    assert len(ds.skipped) == 1 and ds.skipped[0][0].endswith("rec02")
    assert sum(len(ds.splits[s]) for s in ("train", "val", "test")) == 19


def test_label_row_without_record(wfdb_dir):
    with open(wfdb_dir / "labels.csv", "a") as f:
        f.write("ghost,A\n")
    with pytest.raises(BadRecord) as err:
        load(wfdb_dir)
    assert "ghost" in one_line(err)
    assert load(wfdb_dir, on_bad_record="skip").skipped[0][0].endswith("ghost")


def test_bad_split_value(wfdb_dir):
    rows = ["record,label,split"] + [f"rec{i:02d},{'ABC'[i % 3]},{'train' if i != 3 else 'holdout'}" for i in range(20)]
    (wfdb_dir / "labels.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(BadRecord) as err:
        load(wfdb_dir)
    assert "rec03" in one_line(err) and "holdout" in one_line(err)


def test_missing_lead(wfdb_dir, rng):
    write_wfdb(wfdb_dir, "rec06", beat(rng, 500, 250, 0), 250, leads=("I", "V1"))
    with pytest.raises(BadRecord) as err:
        load(wfdb_dir, leads="I,II")
    assert "rec06" in one_line(err) and "II" in one_line(err)
    with pytest.raises(BadRecord) as err:  # no leads option: the odd layout is named
        load(wfdb_dir)
    assert "rec06" in one_line(err) and "leads=" in one_line(err)
    ds = load(wfdb_dir, on_bad_record="skip", leads="I")
    assert ds.skipped == [] and ds.input_spec.channel_names == ("I",)


def test_ragged_tsv(ucr_dir):
    lines = (ucr_dir / "Toy_TRAIN.tsv").read_text().splitlines()
    lines[2] = "\t".join(lines[2].split("\t")[:-5])
    (ucr_dir / "Toy_TRAIN.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(BadRecord) as err:
        load(ucr_dir)
    assert "Toy_TRAIN.tsv:3" in one_line(err) and "expected 61" in one_line(err)
    ds = load(ucr_dir, on_bad_record="skip")
    assert ds.skipped[0][0].endswith("Toy_TRAIN.tsv:3")
    assert len(ds.splits["train"]) + len(ds.splits["val"]) == 29


def test_tsv_nan_and_bad_label(ucr_dir):
    lines = (ucr_dir / "Toy_TRAIN.tsv").read_text().splitlines()
    parts = lines[4].split("\t")
    parts[10] = "NaN"
    lines[4] = "\t".join(parts)
    lines[6] = "abnormal\t" + lines[6].split("\t", 1)[1]
    lines[8] = lines[8].replace("\t", "\tx", 1)
    (ucr_dir / "Toy_TRAIN.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(BadRecord) as err:
        load(ucr_dir)
    assert "Toy_TRAIN.tsv:5" in one_line(err) and "NaN" in one_line(err)
    ds = load(ucr_dir, on_bad_record="skip")
    reasons = dict(ds.skipped)
    assert set(reasons) == {str(ucr_dir / f"Toy_TRAIN.tsv:{n}") for n in (5, 7, 9)}
    assert "abnormal" in reasons[str(ucr_dir / "Toy_TRAIN.tsv:7")]


def test_ts_bad_rows(ts_dir):
    text = (ts_dir / "Toy_TRAIN.ts").read_text().splitlines()
    start = text.index("@data") + 1
    text[start] = text[start].rsplit(":", 1)[0] + ":swim"            # undeclared class
    text[start + 1] = text[start + 1].split(":", 1)[1]                 # one dimension short
    text[start + 2] = text[start + 2].replace(",", ",?,", 1)           # missing value
    (ts_dir / "Toy_TRAIN.ts").write_text("\n".join(text) + "\n")
    with pytest.raises(BadRecord) as err:
        load(ts_dir)
    assert f"Toy_TRAIN.ts:{start + 1}" in one_line(err) and "swim" in one_line(err)
    ds = load(ts_dir, on_bad_record="skip")
    assert [r.rsplit(":", 1)[1] for r, _ in ds.skipped] == [str(start + n) for n in (1, 2, 3)]


def test_ts_without_labels(ts_dir):
    text = (ts_dir / "Toy_TRAIN.ts").read_text().replace("@classLabel true walk run sit", "@classLabel false")
    (ts_dir / "Toy_TRAIN.ts").write_text(text)
    with pytest.raises(UserError) as err:
        load(ts_dir)
    assert "Toy_TRAIN.ts" in one_line(err)


def test_npz_errors(tmp_path, rng):
    np.savez(tmp_path / "a.npz", x=rng.standard_normal((10, 20)))
    with pytest.raises(UserError) as err:
        load(tmp_path / "a.npz")
    assert "a.npz" in one_line(err) and "'y'" in one_line(err)
    np.savez(tmp_path / "b.npz", x=rng.standard_normal((10, 20)), y=np.arange(9))
    with pytest.raises(UserError) as err:
        load(tmp_path / "b.npz")
    assert "b.npz" in one_line(err)
    (tmp_path / "c.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError) as err:
        load(tmp_path / "c.npz")
    assert "c.npz" in one_line(err)


def test_npz_unparseable_labels_and_nan(tmp_path, rng):
    x = rng.standard_normal((20, 20))
    y = (np.arange(20) % 2).astype(float)
    y[3] = np.nan
    x[5, 4] = np.inf
    np.savez(tmp_path / "d.npz", x=x, y=y)
    with pytest.raises(BadRecord) as err:
        load(tmp_path / "d.npz")
    assert "d.npz[3]" in one_line(err) and "label" in one_line(err)
    ds = load(tmp_path / "d.npz", on_bad_record="skip")
    assert [r for r, _ in ds.skipped] == [f"{tmp_path / 'd.npz'}[3]", f"{tmp_path / 'd.npz'}[5]"]
    np.savez(tmp_path / "m.npz", x=x[:4], y=np.array([[0, 2], [1, 0], [0, 1], [1, 1]]))
    with pytest.raises(BadRecord) as err:
        load(tmp_path / "m.npz")
    assert "m.npz[0]" in one_line(err)


def test_regression_label_not_a_number(wfdb_dir):
    rows = ["record,label"] + [f"rec{i:02d},{0.5 + i if i != 8 else 'high'}" for i in range(20)]
    (wfdb_dir / "labels.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(BadRecord) as err:
        load(wfdb_dir, task="regression")
    assert "rec08" in one_line(err) and "high" in one_line(err)


def test_ptbxl_bad_scp_codes_and_missing_statements(ptbxl_dir):
    import pandas as pd

    db = pd.read_csv(ptbxl_dir / "ptbxl_database.csv")
    db.loc[2, "scp_codes"] = "{'NDT': 100.0"
    db.to_csv(ptbxl_dir / "ptbxl_database.csv", index=False)
    with pytest.raises(BadRecord) as err:
        load(ptbxl_dir)
    assert "00003_lr" in one_line(err) and "scp_codes" in one_line(err)
    assert load(ptbxl_dir, on_bad_record="skip").skipped[0][0].endswith("00003_lr")
    (ptbxl_dir / "scp_statements.csv").unlink()
    with pytest.raises(UserError) as err:
        load(ptbxl_dir)
    assert "scp_statements.csv" in one_line(err)


def test_too_few_records(wfdb_dir):
    with pytest.raises(UserError) as err:
        load(wfdb_dir / "rec00")
    assert "split" in one_line(err)


def test_options_for_another_format(ucr_dir):
    with pytest.raises(UserError) as err:
        load(ucr_dir, labels="labels.csv")
    assert "labels" in one_line(err) and "ucr" in one_line(err)
    with pytest.raises(UserError) as err:
        load(ucr_dir, sampling="500")
    assert "sampling" in one_line(err)


def test_rate_unknown_for_resampling(ucr_dir):
    with pytest.raises(UserError) as err:
        load(ucr_dir, fs="50")
    assert "source_fs" in one_line(err) and "Toy_TRAIN.tsv:1" in one_line(err)
    ds = load(ucr_dir, fs="50", source_fs="100")
    assert ds.input_spec.shape == (1, 30) and ds.input_spec.sample_rate == 50
