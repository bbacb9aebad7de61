"""Protein encoders: each ``build(input_spec, dim)`` maps a batch (ids ``(B, L)`` or a
:class:`ProteinBatch`) to ``(B, dim)``, with EXACT padding masks: positions past a sequence's
end never influence its embedding, so it is the same alone or next to a much longer sequence.

* :class:`DilatedResNet` — residue embedding -> 1x1 conv -> pre-activation residual blocks
  ``x + Conv1x1(ReLU(Conv_dilated(ReLU(x))))`` with dilations 1, 2, 4, 8 (ByteNet / ProtCNN
  style, Kalchbrenner et al. 2016; Bileschi et al. 2022), a final per-residue LayerNorm over
  channels (no statistic mixes positions or batch mates), masked mean + max pooling. Padding is
  zeroed after every block (equal to the convolution's own zero padding); the forward pass runs
  packed (:mod:`core_protein.packing`), equal to the padded one without its wasted work.
* :class:`ResidueTransformer` — residue embedding + sinusoidal positions (Vaswani et al. 2017),
  pre-norm ``nn.TransformerEncoder`` with a key-padding mask, masked mean pooling.
* :class:`ContactMapEncoder` — the dilated CNN's residue states refined by graph convolutions over
  the Cα contact map (Cα-Cα distance < 8 Å, the usual contact definition; Kipf & Welling 2017
  mean aggregation, ``h_i ← h_i + W [h_i, mean_{j∈N(i)} h_j]``). Built for structure input; on
  plain sequences the contact map is empty (a warning says so) and it reduces to the CNN.
"""
from __future__ import annotations

import logging
import math

import torch
from torch import nn

from core.errors import UserError
from core.specs import InputSpec
from core_protein.batches import ProteinBatch, tokens_of
from core_protein.packing import pack, segment_pool

log = logging.getLogger("core.protein")
CONTACT_CUTOFF = 8.0  # Å, Cα-Cα


def _vocab(spec: InputSpec, name: str) -> int:
    if spec.modality != "tokens" or not spec.vocab_size:
        raise UserError(f"encoder {name} reads residue tokens (a protein dataset), got {spec.modality} {spec.shape}; "
                        f"pick an encoder for that modality (`core list encoders`)")
    return int(spec.vocab_size)


def masked_pool(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``h (B, C, L)``, ``mask (B, 1, L)`` -> masked mean and max ``(B, 2C)`` (empty rows give 0)."""
    mean = (h * mask).sum(-1) / mask.sum(-1).clamp_min(1)
    peak = h.masked_fill(mask == 0, float("-inf")).amax(-1)
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    return torch.cat([mean, peak], dim=1)


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of ``(N, C, T)``, per position (never mixes residues or batch
    mates); computed along dim 1 directly, without transposing copies."""

    def __init__(self, width: int, eps: float = 1e-5):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(width)), nn.Parameter(torch.zeros(width)), eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        return (x - mu) * torch.rsqrt(var + self.eps) * self.weight[:, None] + self.bias[:, None]


class DilatedBlock(nn.Module):
    """``x + Conv1x1(ReLU(Conv_dilated(ReLU(x))))``, zeroed outside sequences (pre-activation residual)."""

    def __init__(self, width: int, kernel_size: int, dilation: int):
        super().__init__()
        self.conv1 = nn.Conv1d(width, width, kernel_size, dilation=dilation, padding=dilation * (kernel_size // 2))
        self.conv2 = nn.Conv1d(width, width, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = self.conv1(torch.relu(x))  # x is already zero past the end
        return (x + self.conv2(torch.relu(h))) * mask


class DilatedResNet(nn.Module):
    """The dilated residual CNN (module docstring). ``forward`` runs packed (:mod:`core_protein.packing`):
    one row of sequences separated by ``reach`` zeros, the largest one-sided reach of a convolution."""

    def __init__(self, vocab_size: int, dim: int, embed_dim: int = 32, width: int = 64, kernel_size: int = 5,
                 dilations=(1, 2, 4, 8)):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"DilatedResNet kernel_size must be odd, got {kernel_size}")
        self.reach = max(dilations) * (kernel_size // 2)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.inp = nn.Conv1d(embed_dim, width, 1)
        self.blocks = nn.ModuleList(DilatedBlock(width, kernel_size, d) for d in dilations)
        self.norm = ChannelNorm(width)
        self.head = nn.Linear(2 * width, dim)

    def trunk(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``ids (N, T)``, ``mask (N, 1, T)`` -> residue states ``(N, width, T)``, zero where mask is 0."""
        h = self.inp(self.embed(ids).transpose(1, 2)) * mask
        for block in self.blocks:
            h = block(h, mask)
        return torch.relu(self.norm(h)) * mask

    def residues(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded layout: per-residue states ``(B, width, L)`` and the mask ``(B, 1, L)``."""
        mask = (ids != 0).unsqueeze(1).to(self.inp.weight.dtype)
        return self.trunk(ids, mask), mask

    def forward(self, batch) -> torch.Tensor:
        packed = pack(tokens_of(batch), self.reach)
        h = self.trunk(packed.ids[None], packed.mask.to(self.inp.weight.dtype)[None, None])
        return self.head(segment_pool(h[0], packed))


def sinusoidal(length: int, width: int, device, dtype) -> torch.Tensor:
    """Sinusoidal position codes ``(length, width)`` (Vaswani et al. 2017, §3.5)."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, width, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / width))
    out = torch.zeros(length, width, device=device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq[: width // 2])
    return out.to(dtype)


class ResidueTransformer(nn.Module):
    def __init__(self, vocab_size: int, dim: int, width: int = 128, layers: int = 3, heads: int = 4,
                 ff: int = 256, dropout: float = 0.0):
        super().__init__()
        self.width = width
        self.embed = nn.Embedding(vocab_size, width, padding_idx=0)
        layer = nn.TransformerEncoderLayer(width, heads, ff, dropout=dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, dim)

    def forward(self, batch) -> torch.Tensor:
        ids = tokens_of(batch)
        pad = ids == 0
        h = self.embed(ids) * math.sqrt(self.width) + sinusoidal(ids.shape[1], self.width, ids.device,
                                                                 self.embed.weight.dtype)
        h = self.norm(self.encoder(h, src_key_padding_mask=pad))
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        return self.head((h * keep).sum(1) / keep.sum(1).clamp_min(1))


def contact_map(coords: torch.Tensor, cutoff: float = CONTACT_CUTOFF) -> torch.Tensor:
    """``coords (B, L, 3)`` (NaN = none) -> 0/1 contacts ``(B, L, L)`` (Cα distance < cutoff, i ≠ j)."""
    present = torch.isfinite(coords).all(-1)
    c = torch.nan_to_num(coords, nan=0.0)
    dist = torch.cdist(c, c)
    contact = (dist < cutoff) & present[:, :, None] & present[:, None, :]
    eye = torch.eye(coords.shape[1], dtype=torch.bool, device=coords.device)
    return (contact & ~eye).to(coords.dtype)


class ContactMapEncoder(nn.Module):
    def __init__(self, vocab_size: int, dim: int, width: int = 64, layers: int = 3):
        super().__init__()
        self.cnn = DilatedResNet(vocab_size, dim, width=width, dilations=(1, 2, 4))
        self.graph = nn.ModuleList(nn.Linear(2 * width, width) for _ in range(layers))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(layers))
        self.head = nn.Linear(2 * width, dim)
        self.warned = False

    def forward(self, batch) -> torch.Tensor:
        h, mask = self.cnn.residues(tokens_of(batch))
        if isinstance(batch, ProteinBatch):
            adj = contact_map(batch.coords.to(h.dtype))
        else:  # plain sequences: no contacts, the graph layers see only the residue itself
            if not self.warned:
                log.warning("protein/contact got sequences without Cα coordinates: the contact map is empty; "
                            "pass --data a folder of PDB/mmCIF files to use structure")
                self.warned = True
            adj = h.new_zeros(h.shape[0], h.shape[2], h.shape[2])
        deg = adj.sum(-1, keepdim=True).clamp_min(1)
        x = h.transpose(1, 2)  # (B, L, C)
        keep = mask.transpose(1, 2)
        for lin, norm in zip(self.graph, self.norms):
            neigh = torch.bmm(adj, x) / deg
            x = (x + torch.relu(lin(torch.cat([norm(x), neigh], -1)))) * keep
        return self.head(masked_pool(x.transpose(1, 2), mask))


def build_cnn(spec: InputSpec, dim: int) -> nn.Module:
    return DilatedResNet(_vocab(spec, "protein/cnn"), dim)


def build_transformer(spec: InputSpec, dim: int) -> nn.Module:
    return ResidueTransformer(_vocab(spec, "protein/transformer"), dim)


def build_contact(spec: InputSpec, dim: int) -> nn.Module:
    return ContactMapEncoder(_vocab(spec, "protein/contact"), dim)
