"""Sampler explorer: random-walk Metropolis-Hastings, ULA and MALA (001, Sec. 2.2.2) on a 2D
mixture with an exact log-density and score. Slide the step size and see acceptance and
mixing trade off: small steps are almost always accepted but crawl; large steps jump far but
are rejected (MH, MALA) or, without a correction (ULA), sample the wrong distribution.

The slider is the *proposal noise std* h for every sampler, so the samplers compare at equal
noise: MH proposes x + h z; ULA and MALA use the Langevin step lambda = h^2 / 2, whose
proposal x + lambda grad log p + sqrt(2 lambda) z has noise std h.

Panels: the chains' final positions and three trajectories over the density; the
acceptance rate against the step size (a sweep, with the current value marked); the
autocorrelation of the first coordinate over the second half of the chains (mixing: the
faster it decays, the more independent the samples). The readout gives the acceptance rate,
the mean squared jump distance E|x_{k+1} - x_k|^2 (a standard mixing measure) and the
number of mixture modes the chains cover.
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
from gentoolkit.widgets._plot import density_trace, log_density_grid
from gentoolkit.widgets.base import Widget

SAMPLERS = MCMC
_SWEEP = np.geomspace(0.01, 3.0, 13)
_MAX_LAG = 30


class SamplerExplorer(Widget):
    """Args: dataset (a ``toy2d`` name), sampler (``"MH"``, ``"ULA"`` or ``"MALA"``),
    proposal_std (the proposal noise std h), n_chains (chains run in parallel), seed."""

    def __init__(
        self,
        dataset: str = "8gaussians",
        sampler: str = "MALA",
        proposal_std: float = 0.3,
        *,
        n_chains: int = 300,
        seed: int = 0,
    ):
        if dataset not in toy2d.names():
            raise ValueError(f"unknown dataset={dataset!r}; expected one of {toy2d.names()}")
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler={sampler!r}; expected one of {SAMPLERS}")
        self.n_chains, self.seed = int(n_chains), int(seed)
        self._mixtures = {n: toy2d.get(n) for n in toy2d.names()}
        self._sweeps: dict = {}
        controls = {
            "dataset": W.Dropdown(options=toy2d.names(), value=dataset, description="dataset"),
            "sampler": W.ToggleButtons(options=list(SAMPLERS), value=sampler, description="sampler"),
            "proposal_std": W.FloatLogSlider(
                value=proposal_std,
                base=10,
                min=-2,
                max=0.5,
                step=0.05,
                description="proposal std",
                readout_format=".3g",
            ),
            "n_steps": W.IntSlider(value=100, min=10, max=400, step=10, description="steps"),
        }
        fig = make_subplots(
            rows=1,
            cols=3,
            subplot_titles=["chains", "acceptance rate vs proposal std", "autocorrelation (mixing)"],
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
        return m + 2.0 * torch.randn(self.n_chains, 2, generator=g)

    def sweep(self) -> tuple[np.ndarray, np.ndarray]:
        """Acceptance rate at 13 step sizes (cached per dataset and sampler; ULA: all 1)."""
        key = (self.value("dataset"), self.value("sampler"))
        if key not in self._sweeps:
            mix = self._mixtures[key[0]]
            x0 = self._x0(mix)[:100]
            rates = [
                1.0
                if key[1] == "ULA"
                else run_mcmc(key[1], mix, x0, float(h), 40, generator=self._gen(), keep_chain=False).acceptance_rate
                for h in _SWEEP
            ]
            self._sweeps[key] = (_SWEEP, np.array(rates))
        return self._sweeps[key]

    def update(self) -> None:
        name, sampler = self.value("dataset"), self.value("sampler")
        step, n_steps = self.value("proposal_std"), self.value("n_steps")
        mix = self._mixtures[name]
        r = run_mcmc(sampler, mix, self._x0(mix), step, n_steps, generator=self._gen())
        chain = r.chain
        rate = 1.0 if r.acceptance_rate is None else r.acceptance_rate
        b = mix.bounds(margin=5)
        xs, ys, logp = log_density_grid(mix, b, 60)
        acf = autocorrelation(chain[n_steps // 2 :], _MAX_LAG)
        jumps = mean_squared_jump(chain)
        stats = mode_stats(r.x, mix)
        sx, sy = self.sweep()
        f = self.figure
        with f.batch_update():
            f.data[0].update(x=xs, y=ys, z=logp)
            f.data[1].update(x=r.x[:, 0].numpy(), y=r.x[:, 1].numpy())
            for k in range(3):
                f.data[2 + k].update(x=chain[:, k, 0].numpy(), y=chain[:, k, 1].numpy())
            f.data[5].update(x=sx, y=sy)
            f.data[6].update(x=[step], y=[rate])
            f.data[7].update(x=np.arange(len(acf)), y=acf)
            f.layout.xaxis.range = b[:2]
            f.layout.yaxis.range = b[2:]
        self.readout.value = (
            f"<b>{sampler}</b>, proposal std {step:.3g}"
            + (f" (λ = {step**2 / 2:.3g})" if sampler != "MH" else "")
            + f": acceptance rate <b>{100 * rate:.1f}%</b> · "
            f"mean squared jump <b>{jumps:.4f}</b> · modes covered <b>{stats['covered']}/{stats['modes']}</b> · "
            f"high-quality samples {100 * stats['high_quality']:.0f}%"
        )
