"""An ``Embedder`` over a trained run directory, in eager PyTorch: the model as it trained, for experiments.

The exported TorchScript towers (``inference.TorchScriptEmbedder``) compute the same embeddings (export verifies
it); this one skips the export step, so that a benchmark can score every run of an experiment grid, and it can
normalise a collection with statistics other than the run's (``normalizer=``), which the exported towers cannot.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from motion_retrieval.models.text_backbone import shared_backbone
from motion_retrieval.run_dir import LoadedRun
from motion_retrieval.serving.motions import fit_to_max_frames
from motion_retrieval.stats import Normalizer


class RunEmbedder:
    """``embed_texts`` / ``embed_motions`` (raw 263-d features at 20 fps) of a loaded run; unit-norm float32."""

    def __init__(self, run: LoadedRun, normalizer: Normalizer | None = None, batch_size: int = 64,
                 device: str = "cpu"):
        self.run = run
        self.model = run.model.to(device).eval()
        self.device = torch.device(device)
        self.normalizer = normalizer or run.normalizer_for(None)
        self.batch_size = batch_size
        config = run.model.config
        self.max_frames = config.motion.max_frames
        self.max_tokens = config.text.max_tokens
        self.backbone = shared_backbone(config.text.backbone)
        self.model_id = f"run:{run.path}"
        self.dim = config.latent.dim

    @torch.no_grad()
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            ids, mask = self.backbone.tokenize(texts[start : start + self.batch_size], self.max_tokens)  # (b, L)
            states = self.backbone.token_states(ids, mask)  # (b, L, 384)
            chunks.append(self.model.embed_text(states.to(self.device), mask.bool().to(self.device)).float().cpu())
        return torch.cat(chunks).numpy() if chunks else np.zeros((0, self.dim), np.float32)

    @torch.no_grad()
    def embed_motions(self, motions: Sequence[np.ndarray]) -> np.ndarray:
        chunks = []
        for start in range(0, len(motions), self.batch_size):
            clips = [self.normalizer.normalize(np.asarray(fit_to_max_frames(m, self.max_frames), np.float32))
                     for m in motions[start : start + self.batch_size]]
            frames = max(len(c) for c in clips)
            motion = torch.zeros(len(clips), frames, clips[0].shape[1])  # (b, T, 263)
            mask = torch.zeros(len(clips), frames, dtype=torch.bool)  # (b, T)
            for i, clip in enumerate(clips):
                motion[i, : len(clip)] = torch.from_numpy(clip.astype(np.float32))
                mask[i, : len(clip)] = True
            chunks.append(self.model.embed_motion(motion.to(self.device), mask.to(self.device)).float().cpu())
        return torch.cat(chunks).numpy() if chunks else np.zeros((0, self.dim), np.float32)
