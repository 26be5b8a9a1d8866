"""gentoolkit: interactive notebooks and widgets for teaching GANs and score-based models.

One module per idea; imports flow one way, from the core to what shows it (widgets, plots,
exercises and the notebooks use the core, never the reverse; samplers take a score function
and know no trainer):

- :mod:`gentoolkit.data` - datasets: 2D Gaussian mixtures with exact log-densities and scores
  at every noise level (``data.toy2d``), and the evaluation grid of the 2D figures.
- :mod:`gentoolkit.nets` - networks: a noise- or time-conditional MLP score model and an MLP
  critic.
- :mod:`gentoolkit.score` - score matching: the DSM and sliced-SM losses, and adversarial
  score matching (``score.adversarial``).
- :mod:`gentoolkit.sampling` - samplers on a density or a score: inverse transform, rejection,
  Metropolis-Hastings, ULA, MALA (``sampling.classic``); ALS, CAS and the EDS
  (``sampling.annealed``).
- :mod:`gentoolkit.sde` - VE, VP and sub-VP SDEs, their reverse-time solvers (Euler-Maruyama,
  reverse diffusion, ancestral, predictor-corrector, probability-flow ODE, Gotta Go Fast),
  ODE log-likelihoods, exact mixture scores and continuous-time DSM.
- :mod:`gentoolkit.metrics` - measurements: score error, effective noise, mode coverage,
  Markov-chain mixing, sliced Wasserstein distance.
- :mod:`gentoolkit.divergences` - f-divergences (discrete, on a grid, between Gaussians),
  Wasserstein-1, the parallel lines, GAN losses' optimal-critic values and their landscapes.
- :mod:`gentoolkit.gan` - the GAN loss zoo (``gan.losses``), regularizers and tricks
  (``gan.regularizers``).
- :mod:`gentoolkit.train` - training loops with progress bars, divergence checks and atomic,
  exactly-resumable checkpoints.
- :mod:`gentoolkit.plots` - static matplotlib figures (no widget code).
- :mod:`gentoolkit.widgets` - interactive widgets (plain classes, testable without a browser).
- :mod:`gentoolkit.exercises` - check functions for the notebooks' exercises.
- :mod:`gentoolkit.editions` - the student and instructor editions of the notebooks
  (``python -m gentoolkit.editions build OUT``, ``make editions``).
- :mod:`gentoolkit.config` - ``FAST`` / ``fast(full, quick)`` (the notebooks' fast mode under
  test) and ``default_device()`` (``cuda`` when available).
"""

from gentoolkit.config import FAST, default_device, fast

__version__ = "0.1.0"
__all__ = ["FAST", "default_device", "fast", "__version__"]
