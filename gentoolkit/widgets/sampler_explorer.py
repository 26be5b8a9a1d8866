"""Sampler explorer: random-walk Metropolis-Hastings, ULA and MALA (001, Sec. 2.2.2) on a 2D
mixture with an exact log-density and score. Slide the proposal noise std h and see
acceptance and mixing trade off: small h is almost always accepted but crawls; large h jumps
far but is rejected (MH, MALA) or, without a correction (ULA), samples the wrong distribution
and, past its stability limit, diverges.

The slider is the *proposal noise std* h (``proposal_std``) for every sampler, so the samplers
compare at equal noise (:func:`gentoolkit.sampling.run_mcmc`): MH proposes x + h z; ULA and
MALA take the Langevin step lambda = h^2 / 2 (the package's ``step_size``), whose proposal
x + lambda grad log p + sqrt(2 lambda) z has noise std h.

Panels: the chains' final positions and three trajectories over the density; the
acceptance rate against h (a sweep, with the current h marked); the autocorrelation of the
first coordinate over the second half of the chains (mixing: the faster it decays, the more
independent the samples). The readout gives the acceptance rate, the mean squared jump
distance E|x_{k+1} - x_k|^2 (a standard mixing measure) and the number of mixture modes the
chains cover. A run that diverges (NaN/inf, or chains far beyond the data) draws no chains
and says at which step it diverged and what to change.
"""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from gentoolkit.data import toy2d
from gentoolkit.metrics.mixing import autocorrelation, mean_squared_jump
from gentoolkit.metrics.modes import mode_stats
from gentoolkit.sampling import MCMC, run_mcmc
from gentoolkit.widgets._common import BLOWUP, diverged_step, widget_device
from gentoolkit.widgets._plot import density_trace, log_density_grid
from gentoolkit.widgets.base import Widget

SAMPLERS = MCMC
H_RANGE = (0.01, 10**0.5)  # the proposal std slider's range
_SWEEP = np.geomspace(0.01, 3.0, 13)
_MAX_LAG = 30


class SamplerExplorer(Widget):
    """Args: dataset (a ``toy2d`` name), sampler (``"MH"``, ``"ULA"`` or ``"MALA"``),
    proposal_std (the proposal noise std h, in ``H_RANGE``; ULA and MALA use the Langevin
    step lambda = h^2 / 2), n_chains (chains run in parallel), seed, device (where the chains
    run; None: :func:`gentoolkit.config.default_device`; pictures are drawn from CPU copies)."""

    def __init__(
        self,
        dataset: str = "8gaussians",
        sampler: str = "MALA",
        proposal_std: float = 0.3,
        *,
        n_chains: int = 300,
        seed: int = 0,
        device=None,
    ):
        if dataset not in toy2d.names():
            raise ValueError(f"unknown dataset={dataset!r}; expected one of {toy2d.names()}")
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler={sampler!r}; expected one of {SAMPLERS}")
        if not H_RANGE[0] <= proposal_std <= H_RANGE[1]:
            raise ValueError(f"proposal_std={proposal_std!r} must lie in [{H_RANGE[0]}, {H_RANGE[1]:.4g}]")
        self.n_chains, self.seed = int(n_chains), int(seed)
        self.device = widget_device(device, [])
        self._mixtures = {n: toy2d.get(n) for n in toy2d.names()}
        self._sweeps: dict = {}
        controls = {
            "dataset": W.Dropdown(options=toy2d.names(), value=dataset, description="dataset"),
            "sampler": W.ToggleButtons(options=list(SAMPLERS), value=sampler, description="sampler"),
            "proposal_std": W.FloatLogSlider(
                value=proposal_std,
                base=10,
                min=np.log10(H_RANGE[0]),
                max=np.log10(H_RANGE[1]),
                step=0.05,
                description="proposal std h",
                readout_format=".3g",
            ),
            "n_steps": W.IntSlider(value=100, min=10, max=400, step=10, description="steps"),
        }
        fig = make_subplots(
            rows=1,
            cols=3,
            subplot_titles=["chains", "acceptance rate vs proposal std h", "autocorrelation (mixing)"],
            horizontal_spacing=0.08,
        )
        fig.add_trace(density_trace(), 1, 1)
        fig.add_trace(go.Scattergl(mode="markers", marker=dict(size=3, color="crimson"), name="final positions"), 1, 1)
        for c in ("orange", "purple", "teal"):
            fig.add_trace(
                go.Scatter(mode="lines", line=dict(color=c, width=1), showlegend=False, name="trajectory"), 1, 1
            )
        fig.add_trace(go.Scatter(mode="lines+markers", line=dict(color="gray"), name="sweep"), 1, 2)
        fig.add_trace(
            go.Scatter(mode="markers", marker=dict(color="crimson", size=12, symbol="star"), name="current"), 1, 2
        )
        fig.add_trace(go.Scatter(mode="lines+markers", line=dict(color="crimson"), name="ACF"), 1, 3)
        fig.update_xaxes(type="log", title_text="proposal noise std h", row=1, col=2)
        fig.update_yaxes(range=[0, 1.05], row=1, col=2)
        fig.update_xaxes(title_text="lag", row=1, col=3)
        fig.update_yaxes(range=[-0.2, 1.05], row=1, col=3)
        fig.update_yaxes(scaleanchor="x", row=1, col=1)
        fig.update_layout(height=380, margin=dict(l=40, r=20, t=40, b=40), showlegend=False)
        super().__init__(controls, go.FigureWidget(fig), main="proposal_std")

    def _gen(self) -> torch.Generator:
        return torch.Generator().manual_seed(self.seed)

    def _x0(self, mix) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed + 7)
        m = mix.mean().float()
        return (m + 2.0 * torch.randn(self.n_chains, 2, generator=g)).to(self.device)

    def sweep(self) -> tuple[np.ndarray, np.ndarray]:
        """Acceptance rate at 13 proposal stds h (cached per dataset and sampler; ULA: all 1)."""
        key = (self.value("dataset"), self.value("sampler"))
        if key not in self._sweeps:
            mix = self._mixtures[key[0]]
            x0 = self._x0(mix)[:100]
            rates = [
                1.0
                if key[1] == "ULA"
                else run_mcmc(
                    key[1], mix, x0, float(h), 40, generator=self._gen(), keep_chain=False, progress=False
                ).acceptance_rate
                for h in _SWEEP
            ]
            self._sweeps[key] = (_SWEEP, np.array(rates))
        return self._sweeps[key]

    def update(self) -> None:
        name, sampler = self.value("dataset"), self.value("sampler")
        h, n_steps = self.value("proposal_std"), self.value("n_steps")
        mix = self._mixtures[name]
        r = run_mcmc(sampler, mix, self._x0(mix), h, n_steps, generator=self._gen(), progress=False)
        chain = r.chain.cpu()
        rate = 1.0 if r.acceptance_rate is None else r.acceptance_rate
        b = mix.bounds(margin=5)
        bad = diverged_step(chain, max(abs(v) for v in b))
        xs, ys, logp = log_density_grid(mix, b, 60)
        sx, sy = self.sweep()
        f = self.figure
        with f.batch_update():
            f.data[0].update(x=xs, y=ys, z=logp)
            if bad is None:
                f.data[1].update(x=chain[-1, :, 0].numpy(), y=chain[-1, :, 1].numpy())
                for k in range(3):
                    f.data[2 + k].update(x=chain[:, k, 0].numpy(), y=chain[:, k, 1].numpy())
                acf = autocorrelation(chain[n_steps // 2 :], _MAX_LAG)
                f.data[7].update(x=np.arange(len(acf)), y=acf)
            else:  # nothing of a diverged run is drawn
                for k in (1, 2, 3, 4, 7):
                    f.data[k].update(x=[], y=[])
            f.data[5].update(x=sx, y=sy)
            f.data[6].update(x=[h], y=[rate])
            f.layout.xaxis.range = b[:2]
            f.layout.yaxis.range = b[2:]
            f.layout.annotations[0].text = "chains" if bad is None else f"chains: diverged at step {bad}, not drawn"
        self.readout.value = self._readout(sampler, mix, h, n_steps, rate, chain, bad)

    @staticmethod
    def _readout(sampler, mix, h, n_steps, rate, chain, bad) -> str:
        text = f"<b>{sampler}</b>, proposal noise std h = {h:.3g}"
        if sampler != "MH":
            text += f" (Langevin step λ = h²/2 = {h**2 / 2:.3g})"
        if bad is not None:
            s = mix.stds.min().item()
            why = ""
            if sampler == "ULA":
                why = f"; ULA is unstable once λ = h²/2 > 2s² (s = {s:.3g}, the components' std), i.e. h > {2 * s:.3g}"
            return (
                text + f": <b>diverged at step {bad} of {n_steps}</b> (the chains became NaN/inf or ran beyond "
                f"{BLOWUP:.0f}× the data's extent){why}. Likely fix: a smaller proposal std h"
                + (f" (below {2 * s:.3g})" if sampler == "ULA" else "")
                + "."
            )
        stats = mode_stats(chain[-1], mix)
        return (
            text + f": acceptance rate <b>{100 * rate:.1f}%</b> · "
            f"mean squared jump <b>{mean_squared_jump(chain):.4f}</b> · "
            f"modes covered <b>{stats['covered']}/{stats['modes']}</b> · "
            f"high-quality samples {100 * stats['high_quality']:.0f}%"
        )
