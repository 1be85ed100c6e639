"""synthboost: text-prompted echocardiogram segmentation with VLSMs, boosted by synthetic data.

Reproduces and extends *Synthetic Boost* (Adhikari et al., ASMUS 2023, arXiv 2309.12829).
"""

__version__ = "0.1.0"
