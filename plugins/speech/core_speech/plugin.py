"""Entry point of the speech plugin (kept light: torch, torchaudio and soundfile load inside factories)."""
from __future__ import annotations

from core import hookimpl, lazy
from core.specs import DatasetSpec, EncoderSpec, ProjectorSpec, Recipe

CORE_REQUIRES = ">=0.1,<0.2"


@hookimpl
def core_datasets():
    return [
        DatasetSpec("speech/digits", lazy("core_speech.datasets:load_digits"),
                    "espeak-ng spoken digits (embedded): 1600 clips, 80 voices, 16 kHz FLAC; digit task on "
                    "held-out voices (task=speaker: speaker identification)", modality="audio", embedded=True),
        DatasetSpec("speech/files", lazy("core_speech.datasets:load_files"),
                    "your audio via --data: class folders, a manifest path,label[,speaker] or a plain folder "
                    "of .wav/.flac/.ogg; options sample_rate, max_seconds, features, normalise, task, split, ...",
                    modality="audio", stream=lazy("core_speech.stream:stream_files"),
                    shard_split=lazy("core_speech.stream:shard_split")),
    ]


@hookimpl
def core_encoders():
    return [
        EncoderSpec("speech/resnet", lazy("core_speech.encoders:build_resnet"), ("audio",),
                    "2-D ResNet over log-mel (16/32/64, masked BN), masked mean+std pooling"),
        EncoderSpec("speech/conformer", lazy("core_speech.encoders:build_conformer"), ("audio",),
                    "stride-2 conv subsampling + 3 torchaudio ConformerLayers (d 96), padding-exact, mean+std pooling"),
    ]


@hookimpl
def core_projectors():
    return [
        ProjectorSpec("speech/logmel_conv", lazy("core_speech.projectors:build_logmel_bank"), ("audio",),
                      "K random masked Conv1d nets over log-mel frames (64 hidden, 2 layers, kernel 5), mean pooled"),
        ProjectorSpec("speech/wave_conv", lazy("core_speech.projectors:build_wave_bank"), ("audio",),
                      "K random masked Conv1d nets over the waveform (25 ms / 10 ms random filterbank + conv)"),
    ]


@hookimpl
def core_recipes():
    return [Recipe(
        name="speech/default", dataset="speech/digits", data_dataset="speech/files",
        encoder="speech/resnet", projector="speech/logmel_conv",
        params={"steps": 200, "batch_size": 64, "lr": 1e-3, "weight_decay": 3e-4, "dim": 128,
                "objective_params": {"k": 6, "candidates_per_slot": 10, "pred_epochs": 5}},
        description="LFR on espeak-ng digits (held-out voices): ResNet over log-mel, K=6 random log-mel conv targets",
    )]
