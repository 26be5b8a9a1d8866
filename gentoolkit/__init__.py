"""gentoolkit: interactive notebooks and widgets for teaching GANs and score-based models.

Modules (imports flow one way: widgets, notebooks and the CLI use the core, never the
reverse):

- :mod:`gentoolkit.data` - datasets (2D mixtures with exact scores in ``data.toy2d``).
- :mod:`gentoolkit.nets` - networks (noise-conditional MLP score model).
- :mod:`gentoolkit.score` - score-matching losses and score-error metrics.
- :mod:`gentoolkit.train` - a small training loop with progress, divergence checks and
  atomic, exactly-resumable checkpoints.
- :mod:`gentoolkit.widgets` - interactive widgets (plain classes, testable without a browser).
- :mod:`gentoolkit.exercises` - check functions for the notebooks' exercises.
"""

from gentoolkit.config import FAST, default_device, fast

__version__ = "0.1.0"
__all__ = ["FAST", "default_device", "fast", "__version__"]
