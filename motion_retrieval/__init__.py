"""motion-retrieval: text <-> 3D human motion retrieval (MoT++ with CCCL, Messina et al. 2024)."""

__version__ = "0.1.0"
