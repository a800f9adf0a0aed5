"""Every figure of the study, drawn from the tables (``summary.csv``, ``sweep_dense.csv``, the cache statistics).

Each ``fig_*`` function takes its table(s) and a path stem and writes ``<stem>.png`` and ``<stem>.pdf``.
The paper's figures (fig2, fig4, fig5, fig6) are drawn per regime from the trace model over every cached
prompt, with 95 % bootstrap intervals over prompts as bands or bars, and the regime's live cells beside
them as hollow markers with their own intervals. A note in each figure's corner says how its latency is
priced (the regime: draft cap, link, compute profile).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from sqs.outputs.catalog import REGISTRY, drawn_by, figure
from sqs.protocol.schemes import SCHEMES
from sqs.study.grid import PARAM_COLUMNS, is_variant

# every scheme's colour, marker and label, as sqs.protocol.schemes.registry declares them
STYLE = {name: {**spec.style, "label": spec.label} for name, spec in SCHEMES.items()}
__all__ = ["REGISTRY", "draw", "draw_all"]
TRACE_SCHEMES = [name for name, spec in SCHEMES.items() if spec.vectorized is not None]


def _save(fig, stem: Path, constrained: bool = False, dpi: int = 130, note: str = "") -> None:
    """PNG and PDF at ``stem``; ``constrained``: the figure lays itself out (colour bars), crop to its content;
    ``note``: what the figure's latency is, in its lower right corner."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    if not constrained:
        fig.tight_layout(rect=(0, 0.03 if note else 0, 1, 1))
    if note:
        fig.text(0.995, 0.003, note, ha="right", va="bottom", fontsize=7, color="gray")
    kw = {"bbox_inches": "tight"} if constrained else {}
    fig.savefig(stem.with_suffix(".png"), dpi=dpi, **kw)
    fig.savefig(stem.with_suffix(".pdf"), **kw)
    plt.close(fig)


def regime_note(rows: pd.DataFrame, regime: str | None = None) -> str:
    """How a regime's rows price latency, from their own columns: the draft cap, the C-SQS accounting, the link
    and the compute profile."""
    spec = rows[rows.scheme != "ar"] if "scheme" in rows else rows  # AR rows carry no batch rule
    if not len(spec):
        return ""
    r = spec.iloc[0]
    cap = r.get("max_draft_len")
    cap = "B alone sets L" if cap is None or cap != cap or cap == "" else f"at most {int(float(cap))} drafts"
    parts = [f"{regime or r.get('regime', '')} regime: B = {int(r['budget_bits'])}, {cap}"]
    if "accounting" in r and isinstance(r["accounting"], str):
        parts.append("C-SQS bits as the paper counts them" if r["accounting"] == "paper" else "C-SQS bits exact")
    if "uplink_bps" in r:
        down = r.get("downlink_bps")
        down = "no downlink" if down is None or down != down or down == "" else f"{float(down) / 1e6:g} Mb/s down"
        parts.append(f"{float(r['uplink_bps']) / 1e6:g} Mb/s up, {1e3 * float(r['propagation_s']):g} ms propagation, "
                     f"{down}")  # fmt: skip
    parts.append(f"compute: {r['compute']}")
    return "; ".join(parts)


def _middle(values) -> float:
    vals = sorted(set(values))
    return vals[(len(vals) - 1) // 2] if vals else float("nan")


def focus(df) -> dict:
    """The setting of each swept scheme shown where a figure has room for one: the middle value of each
    column (for C-SQS's η the largest, the paper's adaptive one); also flat as K, beta0, eta."""
    out: dict = {}
    for name, spec in SCHEMES.items():
        sub = df[df.scheme == name]
        out[name] = {c: (max(sub[c]) if c == "eta" and len(sub) else _middle(sub[c])) for c in spec.columns()}
    return {**out, "K": out["k-sqs"]["K"], "beta0": out["c-sqs"]["beta0"], "eta": out["c-sqs"]["eta"]}


def _line(ax, sub, y, style, err=None, **kw):
    sub = sub.sort_values("temperature")
    opts = {**style, **kw}
    if err is not None and err in sub and len(sub) and sub[err].max() > 0:
        ax.errorbar(sub.temperature, sub[y], yerr=sub[err], capsize=3, **opts)
    else:
        ax.plot(sub.temperature, sub[y], **opts)


def _band(ax, sub, y, style, x="temperature", alpha=0.18, **kw):
    """A line with its 95 % interval as a band (``<y>_ci_low`` .. ``<y>_ci_high``)."""
    sub = sub.sort_values(x)
    opts = {**style, **kw}
    (line,) = ax.plot(sub[x], sub[y], **opts)
    if f"{y}_ci_low" in sub and len(sub):
        ax.fill_between(sub[x], sub[f"{y}_ci_low"], sub[f"{y}_ci_high"], color=line.get_color(), alpha=alpha, lw=0)
    return line


def _live(ax, sub, y, style, label: str, x="temperature") -> None:
    """Live cells: hollow markers with their own 95 % intervals over prompts."""
    if not len(sub):
        return
    lo, hi = sub.get(f"{y}_ci_low"), sub.get(f"{y}_ci_high")
    err = None if lo is None else np.vstack([(sub[y] - lo).clip(lower=0), (hi - sub[y]).clip(lower=0)])
    ax.errorbar(sub[x], sub[y], yerr=err, ls="none", marker=style.get("marker", "o"), mfc="white", ms=7,
                color=style.get("color"), capsize=3, label=label, zorder=4)  # fmt: skip


def _sel(df, scheme, **eq):
    out = df[df.scheme == scheme]
    for key, val in eq.items():
        out = out[np.isclose(out[key], val)]
    return out


def _isin(df, column: str, values) -> pd.DataFrame:
    if not len(df):
        return df
    return df[np.isclose(df[column].to_numpy(float)[:, None], np.asarray(values, float)[None, :]).any(axis=1)]


def _empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} cells in this grid", ha="center", va="center", transform=ax.transAxes)


def _temperature_axes(axes, ylabels):
    for ax, lab in zip(axes, ylabels, strict=True):
        ax.set_xlabel("temperature T")
        ax.set_ylabel(lab)
        ax.grid(alpha=0.3)


def paper_points(sweep: pd.DataFrame, settings) -> pd.DataFrame:
    """The sweep's rows at the paper figures' settings (``analysis.figures``): its temperatures, K-SQS at its
    Ks, C-SQS at its betas and etas."""
    sw, v = _isin(sweep, "temperature", settings.temperatures), settings.values
    k = _isin(sw[sw.scheme == "k-sqs"], "K", v["K"])
    c = _isin(_isin(sw[sw.scheme == "c-sqs"], "beta0", v["beta0"]), "eta", v["eta"])
    return pd.concat([k, c], ignore_index=True)


def _best_per_t(sub: pd.DataFrame) -> pd.DataFrame:
    """Per temperature, the row of lowest mean latency."""
    return sub.loc[sub.groupby("temperature").latency_s.idxmin()] if len(sub) else sub


LAT = "latency per sequence (s)"
RES = "resampling rate (resampled / batch)"


@figure("figures", "regime", ("points", "live"), note="points")
def fig2_latency_resampling_vs_temperature(pts, live, stem, note: str = "") -> None:
    """K-SQS at its best K and C-SQS at its best β₁ per T (η the adaptive one), the paper's Fig. 2 reading."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    eta = max(pts[pts.scheme == "c-sqs"].eta, default=0.0)
    best = {"k-sqs": _best_per_t(pts[pts.scheme == "k-sqs"]), "c-sqs": _best_per_t(_sel(pts, "c-sqs", eta=eta))}
    names = {"k-sqs": ("K", "K"), "c-sqs": ("beta0", "β₁")}
    for scheme, sub in best.items():
        if not len(sub):
            continue
        col, sym = names[scheme]
        st = {**STYLE[scheme], "label": f"{STYLE[scheme]['label']}, best {sym} per T (trace)"}
        for ax, y in zip(axes, ("latency_s", "resampling_rate"), strict=True):
            _band(ax, sub, y, st)
        for r in sub.itertuples():
            axes[0].annotate(f"{getattr(r, col):g}", (r.temperature, r.latency_s), fontsize=6, xytext=(0, 5),
                             textcoords="offset points", ha="center", color=STYLE[scheme]["color"])  # fmt: skip
        mine = live[live.scheme == scheme] if len(live) else live
        for ax, y in zip(axes, ("latency_s", "resampling_rate"), strict=True):
            _live(ax, mine, y, STYLE[scheme], f"{STYLE[scheme]['label']} live ({_settings(mine)})")
    _temperature_axes(axes, [LAT, RES])
    axes[0].legend(fontsize=7)
    fig.suptitle(f"Fig. 2: latency and resampling rate vs temperature (bands: 95 % over "
                 f"{int(pts.n_prompts.max()) if len(pts) else 0} prompts)")  # fmt: skip
    _save(fig, stem, note=note)


def _settings(live: pd.DataFrame) -> str:
    """The live cells' settings and prompts, for a legend."""
    if not len(live):
        return ""
    labs = [SCHEMES[r["scheme"]].cell_label(r).split(" ", 1)[-1] for r in live.drop_duplicates(list(PARAM_COLUMNS))
            .to_dict("records")]  # fmt: skip
    return f"{', '.join(labs)}; {int(live.n_prompts.max())} prompts"


@figure("figures", "regime", ("points", "live"), note="points")
def fig4_latency_vs_K_and_beta(pts, live, stem, note: str = "") -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    cmap = plt.get_cmap("viridis")
    temps = sorted(pts.temperature.unique())
    eta = max(pts[pts.scheme == "c-sqs"].eta, default=0.0)
    for i, t in enumerate(temps):
        color = cmap(0.85 * i / max(len(temps) - 1, 1))
        at = pts[np.isclose(pts.temperature, t)]
        for ax, sub, x, mk in ((axes[0], at[at.scheme == "k-sqs"], "K", "o"),
                               (axes[1], _sel(at, "c-sqs", eta=eta), "beta0", "v")):  # fmt: skip
            if len(sub):
                sub = sub.sort_values(x)
                err = np.vstack([sub.latency_s - sub.latency_s_ci_low, sub.latency_s_ci_high - sub.latency_s])
                ax.errorbar(sub[x], sub.latency_s, yerr=err, marker=mk, ms=4, color=color, capsize=2, lw=1,
                            label=f"T = {t:g}")  # fmt: skip
    for ax, x, scheme in ((axes[0], "K", "k-sqs"), (axes[1], "beta0", "c-sqs")):
        mine = _sel(live, scheme, eta=eta) if scheme == "c-sqs" and len(live) else live[live.scheme == scheme]
        _live(ax, mine, "latency_s", {"color": "black", "marker": "s"}, f"live ({_settings(mine)})", x=x)
    for ax, xl, what in ((axes[0], "K (top-K support size)", "K-SQS"), (axes[1], "initial threshold β₁", "C-SQS")):
        ax.set_xscale("log", base=2 if what == "K-SQS" else 10)
        if what == "K-SQS":
            ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel(xl)
        ax.set_ylabel(LAT)
        ax.set_title(what if ax.has_data() else "")
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=6, ncol=2)
        else:
            _empty(ax, what)
    fig.suptitle(f"Fig. 4: latency vs K (K-SQS) and β₁ (C-SQS, η = {eta:g}); bars: 95 % over prompts")
    _save(fig, stem, note=note)


@figure("figures", "regime", ("points", "live"), note="points")
def fig5_csqs_adaptivity(pts, live, stem, note: str = "") -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    c = pts[pts.scheme == "c-sqs"]
    betas = sorted(c.beta0.unique())
    cmap = plt.get_cmap("plasma")
    for i, b in enumerate(betas):
        color = cmap(i / max(len(betas), 1))
        for eta in sorted(c.eta.unique()):
            sub = _sel(c, "c-sqs", beta0=b, eta=eta)
            style = dict(color=color, marker="o" if eta > 0 else "x", ms=3, linestyle="-" if eta > 0 else "--",
                         label=f"β₁ = {b:g}, η = {eta:g}")  # fmt: skip
            for ax, y in zip(axes, ("latency_s", "resampling_rate"), strict=True):
                _band(ax, sub, y, style, alpha=0.12)
    mine = live[live.scheme == "c-sqs"] if len(live) else live
    for ax, y in zip(axes, ("latency_s", "resampling_rate"), strict=True):
        _live(ax, mine, y, {"color": "black", "marker": "v"}, f"live ({_settings(mine)})")
    _temperature_axes(axes, [LAT, RES])
    if axes[0].has_data():
        axes[0].legend(fontsize=6, ncol=2)
    else:
        _empty(axes[0], "C-SQS")
    fig.suptitle("Fig. 5: C-SQS with (η > 0, solid) and without (η = 0, dashed) adaptivity; bands: 95 % over prompts")
    _save(fig, stem, note=note)


@figure("figures", "regime", ("points", "live"), note="points")
def fig6_ksqs_vs_csqs(pts, live, stem, note: str = "") -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    eta = max(pts[pts.scheme == "c-sqs"].eta, default=0.0)
    ks = sorted(pts[pts.scheme == "k-sqs"].K.unique())
    bs = sorted(pts[pts.scheme == "c-sqs"].beta0.unique())
    blues, oranges = plt.get_cmap("Blues"), plt.get_cmap("Oranges")
    for i, k in enumerate(ks):
        st = {"color": blues(0.4 + 0.6 * i / max(len(ks) - 1, 1)), "marker": "o", "ms": 3, "label": f"K-SQS K = {k:g}"}
        for ax, y in zip(axes, ("latency_s", "resampling_rate"), strict=True):
            _band(ax, _sel(pts, "k-sqs", K=k), y, st, alpha=0.1)
    for i, b in enumerate(bs):
        st = {"color": oranges(0.4 + 0.6 * i / max(len(bs) - 1, 1)), "marker": "v", "ms": 3,
              "label": f"C-SQS β₁ = {b:g}"}  # fmt: skip
        for ax, y in zip(axes, ("latency_s", "resampling_rate"), strict=True):
            _band(ax, _sel(pts, "c-sqs", beta0=b, eta=eta), y, st, alpha=0.1)
    for scheme in ("k-sqs", "c-sqs"):
        mine = live[live.scheme == scheme] if len(live) else live
        for ax, y in zip(axes, ("latency_s", "resampling_rate"), strict=True):
            _live(ax, mine, y, {"color": "black", "marker": STYLE[scheme]["marker"]},
                  f"{STYLE[scheme]['label']} live ({_settings(mine)})")  # fmt: skip
    _temperature_axes(axes, [LAT, RES])
    if axes[0].has_data():
        axes[0].legend(fontsize=6, ncol=2)
    fig.suptitle(f"Fig. 6: K-SQS vs C-SQS across temperature (C-SQS η = {eta:g}); bands: 95 % over prompts")
    _save(fig, stem, note=note)


@figure("figures", "regime", ("live",), note="live")
@figure("figures", "measured", ("wall",), note="wall")
def fig_baselines(df, stem, note: str = "") -> None:
    """Every live scheme at its middle setting: latency (95 % band over prompts) and speedup over AR."""
    f = focus(df)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    shown = []
    for scheme, spec in SCHEMES.items():
        sub = _sel(df, scheme, **f[scheme])
        if len(sub):
            label = spec.cell_label(f[scheme]).replace(scheme, spec.label, 1) if spec.columns() else spec.label
            _band(axes[0], sub, "latency_s", {**STYLE[scheme], "label": label})
            _line(axes[1], sub, "speedup_vs_ar", {**STYLE[scheme], "label": label})
            shown.append(spec.label)
    axes[1].axhline(1.0, color="black", lw=0.8, ls=":")
    axes[0].set_yscale("log")
    _temperature_axes(axes, ["latency per sequence (s, log scale)", "speedup over AR (×)"])
    if axes[0].has_data():
        axes[0].legend(fontsize=8)
    else:
        _empty(axes[0], "live")
    n = int(df.n_prompts.max()) if len(df) else 0
    fig.suptitle(f"Live cells, every scheme at its middle setting ({n} prompts): " + ", ".join(shown), fontsize=10)
    _save(fig, stem, note=note)


@figure("figures", "once", ("summary",))
def fig_variants(df, stem) -> None:
    """The grid's drafting variants (dashed) against their plain twins (solid): tokens/s and draft length vs T."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    rows = df.to_dict("records")
    var = df[[is_variant(r) for r in rows]]
    plain = df[[not is_variant(r) for r in rows]]
    groups = var.groupby(["scheme", "policy", "preemptive", *PARAM_COLUMNS], sort=True)
    for (scheme, policy, preemptive, *values), mine in groups:
        spec = SCHEMES[scheme]
        setting = dict(zip(PARAM_COLUMNS, values, strict=True))
        label = spec.cell_label(setting).replace(scheme, spec.label, 1)
        twin = _sel(plain, scheme, **{c: setting[c] for c in spec.columns()})
        variant = "adaptive" if policy != "static" else "preemptive" if preemptive else policy
        style = {**STYLE[scheme], "label": label}
        for ax, col in ((axes[0], "tokens_per_s"), (axes[1], "mean_draft_len")):
            if len(twin):
                _line(ax, twin, col, style)
            _line(ax, mine, col, {**style, "label": f"{label} + {variant}"}, ls="--", mfc="white")
    if not len(var):
        for ax in axes:
            _empty(ax, "variant (adaptive policy, preemptive)")
    ar = _sel(plain, "ar")
    if len(ar) and len(var):
        _line(axes[0], ar, "tokens_per_s", STYLE["ar"])
    _temperature_axes(axes, ["tokens per second", "drafts per batch"])
    if len(var):
        # below the axes: the AR line runs along the top
        axes[0].legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.suptitle("Adaptive drafting and preemptive drafting (dashed) beside the same scheme without (solid)")
    _save(fig, stem)


@figure("policy_headroom", inputs=("policy_headroom.csv",))
def fig_policy_headroom(df, stem, target: float = 0.05) -> None:
    """Gain over the best static draft length of oracle and causal draft-length rules, per temperature."""
    rules = [
        ("oracle_any_L", "oracle, any L", "tab:green"),
        ("oracle", "oracle, one draft or none", "tab:olive"),
        ("previous_accept", "previous position's acceptance", "tab:blue"),
        ("previous_confidence", "previous draft's confidence", "tab:purple"),
        ("confidence_gated", "one draft, more while confident (the adaptive policy's class)", "tab:orange"),
    ]
    temps = sorted(df.temperature.unique())
    fig, ax = plt.subplots(figsize=(8.5, 4.4))
    width = 0.8 / len(rules)
    for i, (rule, label, color) in enumerate(rules):
        sub = df[df.rule == rule].set_index("temperature")
        x = np.arange(len(temps)) + (i - (len(rules) - 1) / 2) * width
        ax.bar(x, [100 * sub.gain_vs_best_static.get(t, np.nan) for t in temps], width, label=label, color=color)
    ax.axhline(100 * target, color="red", ls="--", lw=1, label=f"the target ({100 * target:g} %)")
    ax.axhline(0, color="black", lw=0.8)
    best = df[df.rule.str.startswith("static")].loc[lambda d: d.gain_vs_best_static == 0]
    ax.set_xticks(np.arange(len(temps)))
    names = [r.removeprefix("static ") for r in best.rule]
    ax.set_xticklabels([f"T = {t:g}\n(best static: {n})" for t, n in zip(best.temperature, names, strict=True)])
    ax.set_ylabel("gain over the best static draft length (%)")
    ax.legend(fontsize=8)
    ax.set_title("Draft-length headroom from the logits cache (dense QS, trace model)", fontsize=10)
    _save(fig, stem)


@figure("figures", "regime", ("live", "trace"), note="live")
def fig_bound_vs_measured(df, trace, stem, note: str = "") -> None:
    """Live cells (filled) and, when ``trace`` (the calibration table) is given, their trace predictions (hollow)."""
    spec = df[df.scheme != "ar"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for scheme in [n for n, sp in SCHEMES.items() if sp.speculative]:
        sub = spec[spec.scheme == scheme]
        if len(sub):
            st = STYLE[scheme]
            axes[0].scatter(
                sub.bound_theorem1, sub.resampling_rate, color=st["color"], marker=st["marker"], label=st["label"]
            )
            axes[1].scatter(
                sub.expected_rejections, sub.resampling_rate, color=st["color"], marker=st["marker"], label=st["label"]
            )
        tr = trace[trace.scheme == scheme] if trace is not None else []
        if len(tr):
            st = STYLE[scheme]
            hollow = dict(
                facecolors="none", edgecolors=st["color"], marker=st["marker"], label=f"{st['label']} (trace)"
            )
            axes[0].scatter(tr.pred_bound_theorem1, tr.pred_resampling_rate, **hollow)
            axes[1].scatter(tr.pred_expected_rejections, tr.pred_resampling_rate, **hollow)
    has_trace = trace is not None and len(trace) > 0
    for ax, col, xl in (
        (axes[0], "bound_theorem1", "Theorem 1 bound per batch (log scale)"),
        (axes[1], "expected_rejections", "exact E[rejections] per batch, Σ TV(q̂, p) (log scale)"),
    ):
        xs = pd.concat([spec[col], trace[f"pred_{col}"]] if has_trace else [spec[col]], ignore_index=True)
        xs = xs[xs > 0]  # the log-x limits cover live and trace points
        lo, hi = (xs.min() / 1.5, xs.max() * 1.5) if len(xs) else (0.01, 10.0)
        grid = np.geomspace(lo, hi, 200)
        ax.plot(grid, grid, color="black", lw=0.8, ls=":", label="y = x (bound holds below)")
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel(xl)
        ax.set_ylabel("resampling rate (filled: measured, hollow: trace)")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Theorem 1 against measurement (each point a grid cell)")
    _save(fig, stem, note=note)


@figure("figures", "once", ("stats",))
def fig_support_size_vs_temperature(stats, stem) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for model, color in (("slm", "tab:blue"), ("llm", "tab:red")):
        sub = stats[stats.model == model].sort_values("temperature")
        if not len(sub):
            continue
        label = f"{model.upper()} ({sub.model_id.iloc[0]})"
        axes[0].plot(sub.temperature, sub.support_median, marker="o", color=color, label=f"{label}, median")
        axes[0].fill_between(
            sub.temperature, sub.support_p10, sub.support_p90, color=color, alpha=0.15, label="10th–90th percentile"
        )
    acc = stats[stats.model == "slm"].sort_values("temperature")
    axes[1].plot(acc.temperature, acc.accept_prob_mean, marker="o", color="tab:green")
    alpha = stats.alpha.iloc[0] if len(stats) else float("nan")
    axes[0].set_yscale("log")
    axes[0].set_ylabel(f"tokens holding 1 − α of the mass (α = {alpha:g})")
    axes[1].set_ylabel("E[1 − TV(q, p)] (draft acceptance probability)")
    axes[1].set_ylim(0, 1)
    for ax in axes:
        ax.set_xlabel("temperature T")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    n = int(stats.n_positions.iloc[0]) if len(stats) else 0
    fig.suptitle(f"Support size and draft quality vs temperature (logits cache, {n} positions)")
    _save(fig, stem)


def draw_all(summary, stats, sweep, out_dir: Path, regimes: list[str], settings, trace=None) -> list[Path]:
    """Every figure of the ``figures`` rule (as registered); returns the PNG paths.

    Per regime: the paper's figures from ``sweep`` (the trace model's rows at the figure ``settings``,
    analysis.figures) with the regime's plain live cells beside them, the live cells' baselines and Theorem 1
    (``trace``: the calibration table), and in ``measured/`` the baselines again on this machine's wall clock.
    Once: every regime's variant cells, the cache's statistics."""
    out_dir = Path(out_dir)
    paths = []
    for regime in regimes:
        live = summary[summary.regime == regime]
        plain = live[[not is_variant(r) for r in live.to_dict("records")]]
        sw = sweep[sweep.regime == regime]
        wall = plain.assign(latency_s=plain.latency_measured_s, tokens_per_s=plain.tokens_per_s_measured,
                            speedup_vs_ar=plain.speedup_vs_ar_measured).drop(columns=["latency_s_ci_low",
                                                                                      "latency_s_ci_high"])  # fmt: skip
        tr = trace[trace.regime == regime] if trace is not None and "regime" in trace else trace
        data = {"points": paper_points(sw, settings), "live": plain, "wall": wall, "trace": tr}
        notes = {"points": regime_note(sw if len(sw) else plain, regime), "live": regime_note(plain, regime),
                 "wall": f"{regime} regime's live cells; latency: this machine's wall clock"}  # fmt: skip
        for f in drawn_by("figures"):
            if f.scope != "once":
                stem = f.stem(out_dir, regime)
                f.draw(*(data[i] for i in f.inputs), stem, note=notes[f.note])
                paths.append(stem.with_suffix(".png"))
    data = {"summary": summary, "stats": stats}
    for f in drawn_by("figures"):
        if f.scope == "once":
            f.draw(*(data[i] for i in f.inputs), f.stem(out_dir))
            paths.append(f.stem(out_dir).with_suffix(".png"))
    return paths


def draw(name: str, out_dir, *tables, regime: str | None = None, **options) -> Path:
    """One registered figure of another rule (a trace rule, the calibration, a study) from its tables, at its
    place under ``out_dir``; returns its PNG path."""
    (f,) = [f for f in REGISTRY if f.name == name and f.scope != "measured"]
    stem = f.stem(Path(out_dir), regime)
    f.draw(*tables, stem, **options)
    return stem.with_suffix(".png")


@figure("trace_calibration", inputs=("trace_calibration.csv",))
def fig_trace_calibration(cal, stem) -> None:
    """Trace-model predictions against live measurements, one point per speculative grid cell."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    pairs = (
        ("resampling_rate", "resampling rate"),
        ("mean_accept_len", "mean accept length (tokens / batch)"),
        ("latency_s", "latency per sequence (s)"),
    )
    regimes = list(dict.fromkeys(cal.regime)) if "regime" in cal else [None]
    for ax, (col, label) in zip(axes, pairs, strict=True):
        for scheme in TRACE_SCHEMES:
            for i, regime in enumerate(regimes):  # the first regime filled, the others hollow
                sub = cal[(cal.scheme == scheme) & ((cal.regime == regime) if regime is not None else True)]
                if len(sub):
                    st = STYLE[scheme]
                    face = st["color"] if i == 0 else "none"
                    ax.scatter(sub[f"pred_{col}"], sub[col], facecolors=face, edgecolors=st["color"],
                               marker=st["marker"], label=st["label"] + (f" ({regime})" if regime else ""))  # fmt: skip
        vals = np.concatenate([cal[col].to_numpy(float), cal[f"pred_{col}"].to_numpy(float)])
        lo, hi = (np.nanmin(vals), np.nanmax(vals)) if vals.size else (0.0, 1.0)
        pad = 0.05 * (hi - lo or 1.0)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="black", lw=0.8, ls=":", label="y = x")
        mae = float(np.nanmean(np.abs(cal[col] - cal[f"pred_{col}"]))) if len(cal) else float("nan")
        ax.set_title(f"{label}\nMAE {mae:.3g}", fontsize=10)
        ax.set_xlabel("predicted from the logits cache")
        ax.set_ylabel("measured live")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Trace model vs live decoding (each point a grid cell)")
    _save(fig, stem)


@figure("theorem2", inputs=("theorem2.csv",))
def fig_theorem2(tab, stem, alpha: float) -> None:
    """Running average of C-SQS's dropped mass along the trace against Theorem 2's bound, per η."""
    fig, ax = plt.subplots(figsize=(9, 5))
    etas = sorted(tab.eta.unique())
    for i, eta in enumerate(etas):
        sub = tab[np.isclose(tab.eta, eta)].sort_values("tokens")
        color = plt.get_cmap("tab10")(i % 10)
        ax.plot(sub.tokens, sub.running_dropped_mass, color=color, label=f"η = {eta:g}: (1/T) Σ α_n")
        if eta > 0:
            ax.plot(sub.tokens, sub.bound_paper, color=color, ls="--", lw=1, label=f"η = {eta:g}: bound (9)")
        violated = sub[sub.running_dropped_mass > sub.bound_paper]
        if len(violated):
            ax.scatter(violated.tokens, violated.running_dropped_mass, color="red", s=12, zorder=3)
    ax.axhline(alpha, color="black", lw=0.8, ls=":", label=f"target α = {alpha:g}")
    ax.set_yscale("log")
    ax.set_ylim(alpha / 2, 2.0)
    ax.set_xlabel("tokens T along the cached trace")
    ax.set_ylabel("running average of dropped mass (log scale)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title("Theorem 2: running dropped mass vs α + (|β₁| + 1 + ηα)/(ηT)\n(dashed: bound (9); red dots: above it)")
    _save(fig, stem)


def best_per_temperature(sw) -> pd.DataFrame:
    """Per regime and T, the lowest predicted latency of each scheme and the overall winner (with its setting)."""
    rows = []
    sw = sw if "regime" in sw else sw.assign(regime="")
    for (regime, t), sub in sw.groupby(["regime", "temperature"], sort=False):
        best = sub.loc[sub.groupby("scheme").ms_per_token.idxmin()]
        win = best.loc[best.ms_per_token.idxmin()]
        row = {"regime": regime, "temperature": t, "best": _setting(win), "best_ms_per_token": win.ms_per_token}
        row.update({f"{r.scheme}_ms_per_token": r.ms_per_token for r in best.itertuples()})
        row.update({f"{r.scheme}_setting": _setting(r) for r in best.itertuples()})
        rows.append(row)
    return pd.DataFrame(rows)


def _setting(r) -> str:
    """``K-SQS K=16``, ``C-SQS β₁=0.001 η=0.001``, ``QS``: the registry's label and the swept columns."""
    spec = SCHEMES[r.scheme]
    return spec.cell_label(r._asdict() if hasattr(r, "_asdict") else dict(r)).replace(r.scheme, spec.label, 1)


@figure("sweep_dense", "regime", ("sweep_dense.csv",))
def fig_sweep_heatmap(sw, stem) -> None:
    """Predicted latency over (T, K) for K-SQS and over (T, β₁) for C-SQS per η; best setting per T marked."""
    from matplotlib.colors import LogNorm

    regime = ", ".join(map(str, sw.regime.unique())) if "regime" in sw else ""
    etas = sorted(sw[sw.scheme == "c-sqs"].eta.unique())
    panels = [("k-sqs", None)] + [("c-sqs", e) for e in etas]
    panels += [(n, None) for n in TRACE_SCHEMES
               if n not in ("k-sqs", "c-sqs") and SCHEMES[n].columns() and (sw.scheme == n).any()]  # fmt: skip
    ncol = 3
    nrow = -(-(len(panels) + 1) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.4 * ncol, 4.2 * nrow), squeeze=False, layout="constrained")
    axes = axes.ravel()
    vals = sw.ms_per_token.to_numpy(float)
    norm = LogNorm(vmin=np.nanmin(vals), vmax=np.nanmax(vals))
    temps = sorted(sw.temperature.unique())
    best = best_per_temperature(sw)
    im = None
    for ax, (scheme, eta) in zip(axes, panels, strict=False):
        sub = sw[sw.scheme == scheme] if eta is None else sw[(sw.scheme == scheme) & np.isclose(sw.eta, eta)]
        ycol = next(iter(SCHEMES[scheme].columns()))  # K, beta0, top_p: the panel's y axis
        piv = sub.pivot_table(index=ycol, columns="temperature", values="ms_per_token").reindex(columns=temps)
        im = ax.imshow(piv.to_numpy(float), origin="lower", aspect="auto", cmap="viridis_r", norm=norm)
        col_best = np.nanargmin(piv.to_numpy(float), axis=0)
        ax.scatter(range(len(temps)), col_best, marker="o", s=14, facecolor="none", edgecolor="white",
                   label="best in panel per T")  # fmt: skip
        for j, t in enumerate(temps):  # a star where this panel holds the overall best setting at T
            w = best[np.isclose(best.temperature, t)].best.iloc[0]
            here = piv.index[col_best[j]]
            mine = _setting(pd.Series({"scheme": scheme, ycol: here, "eta": eta}))
            if w == mine:
                ax.scatter([j], [col_best[j]], marker="*", s=90, color="red", zorder=3)
        step = max(1, len(temps) // 6)
        ax.set_xticks(range(0, len(temps), step), [f"{t:g}" for t in temps[::step]])
        ax.set_yticks(range(len(piv.index)), [f"{int(v)}" if ycol == "K" else f"{v:g}" for v in piv.index])
        ax.set_xlabel("temperature T")
        ax.set_ylabel({"K": "K (top-K support)", "beta0": "initial threshold β₁"}.get(ycol, ycol))
        ax.set_title(STYLE[scheme]["label"] + (f", η = {eta:g}" if eta is not None else ""), fontsize=10)
    ax = axes[len(panels)]
    for scheme in TRACE_SCHEMES:
        col = f"{scheme}_ms_per_token"
        if col in best:
            st = STYLE[scheme]
            ax.plot(best.temperature, best[col], color=st["color"], marker=st["marker"], ms=4,
                    label=f"{st['label']} (best setting)")  # fmt: skip
    ax.plot(best.temperature, best.best_ms_per_token, color="red", ls="none", marker="*", ms=8, label="winner")
    ax.set_xlabel("temperature T")
    ax.set_ylabel("predicted latency (ms per token)")
    ax.set_title("Best setting of each scheme per T", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    for ax in axes[len(panels) + 1 :]:
        ax.axis("off")
    fig.colorbar(im, ax=axes.tolist(), label="predicted latency (ms per token)", shrink=0.6, location="right")
    fig.suptitle(f"Dense trace sweep, {regime} regime: predicted latency (circles: best per T in a panel; red star: "
                 "overall best)")  # fmt: skip
    _save(fig, stem, constrained=True, note=regime_note(sw, regime))


@figure("policy_study", inputs=("adaptive_vs_static.csv",))
def fig_adaptive_vs_static(tab, stem) -> None:
    """Tokens/s of every static (L, ell) pair and of the adaptive policy, per temperature (live)."""
    temps = sorted(tab.temperature.unique())
    fig, axes = plt.subplots(1, len(temps), figsize=(6.5 * len(temps), 4.4), squeeze=False)
    for ax, t in zip(axes[0], temps, strict=True):
        sub = tab[np.isclose(tab.temperature, t)]
        static = sub[sub.policy == "static"].sort_values(["draft_len", "ell"])
        adaptive = sub[sub.policy == "adaptive"]
        labels = [f"L={int(r.draft_len)}\nℓ={int(r.ell)}" for r in static.itertuples()] + ["adaptive"]
        vals = [*static.tokens_per_s, *adaptive.tokens_per_s]
        colors = ["tab:green" if r.best_static else "tab:gray" for r in static.itertuples()] + ["tab:red"]
        ax.bar(range(len(vals)), vals, color=colors)
        ax.set_xticks(range(len(vals)), labels, fontsize=7)
        ax.set_ylabel("tokens / s (pooled over prompts)")
        gain = float(adaptive.gain_vs_best_static.iloc[0]) if len(adaptive) else float("nan")
        ax.set_title(f"T = {t:g}: adaptive vs best static (green): {gain:+.1%}", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    chan = tab.channel.iloc[0] if len(tab) else ""
    fig.suptitle(f"Live decoding over the {chan} uplink: static (L, ℓ) grid against the adaptive policy")
    _save(fig, stem)


@figure("policy_study", inputs=("preemptive.csv",))
def fig_preemptive(tab, stem) -> None:
    """Latency with and without preemptive drafting across T, and the share of pre-drafts kept."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    for on, color, label in ((False, "tab:blue", "without"), (True, "tab:red", "with preemptive drafting")):
        sub = tab[tab.preemptive == on].sort_values("temperature")
        ax1.errorbar(sub.temperature, sub.latency_s, yerr=sub.latency_s_std, color=color, marker="o", capsize=3,
                     label=label)  # fmt: skip
    ax1.set_xlabel("temperature T")
    ax1.set_ylabel("latency per sequence (s)")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    on = tab[tab.preemptive].sort_values("temperature")
    ax2.bar(on.temperature, on.predraft_kept_share, width=0.08, color="tab:red")
    for r in on.itertuples():
        ax2.annotate(f"{r.speedup_vs_off:.2f}×", (r.temperature, r.predraft_kept_share), ha="center", va="bottom",
                     fontsize=8)  # fmt: skip
    ax2.set_xlabel("temperature T")
    ax2.set_ylabel("share of pre-drafted tokens kept")
    ax2.set_ylim(0, 1.05)
    ax2.set_title("labels: speed with / without preemption", fontsize=10)
    ax2.grid(alpha=0.3, axis="y")
    _save(fig, stem)


@figure("calibrate_compute", inputs=("compute_calibration.csv",))
def fig_compute_calibration(cal, stem) -> None:
    """This machine's model calls, measured (points) against the fitted profile (lines), and the protocol."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    cmap = plt.get_cmap("viridis")
    for ax, side in zip(axes[:2], ("slm", "llm"), strict=True):
        sub = cal[cal.kind == f"{side}_forward"]
        contexts = sorted(sub.context.unique())
        for i, c in enumerate(contexts):
            pts = sub[sub.context == c].sort_values("n_new")
            color = cmap(0.85 * i / max(len(contexts) - 1, 1))
            ax.plot(pts.n_new, 1e3 * pts.seconds, "o", color=color, label=f"measured, {int(c)} cached")
            ax.plot(pts.n_new, 1e3 * pts.fitted_seconds, "-", color=color, lw=1, label=f"fitted, {int(c)} cached")
        if len(sub):
            mae = float(np.mean(np.abs(sub.seconds - sub.fitted_seconds))) * 1e3
            ax.set_title(f"{side.upper()} forward: median of repeats (MAE {mae:.1f} ms)", fontsize=10)
        ax.set_xlabel("new tokens in the call")
        ax.set_ylabel("ms per call")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    proto = cal[cal.kind == "protocol"]
    labels = [f"{r.scheme}\nK={int(r.k)}" for r in proto.itertuples()]
    x = np.arange(len(proto))
    axes[2].bar(x - 0.2, 1e3 * proto.edge_seconds, 0.4, label="edge: compress, sample, encode")
    axes[2].bar(x + 0.2, 1e3 * proto.cloud_seconds, 0.4, label="cloud: decode, verify")
    axes[2].set_xticks(x, labels, fontsize=7)
    axes[2].set_yscale("log")
    axes[2].set_ylabel("ms per draft (log)")
    axes[2].set_title("Protocol work per draft on this machine", fontsize=10)
    axes[2].legend(fontsize=7)
    axes[2].grid(alpha=0.3, axis="y")
    fig.suptitle("Compute calibration: this machine's calls, measured against the fitted profile")
    _save(fig, stem)


@figure("regimes", inputs=("regimes.csv", "capacity_map.csv"))
def fig_regimes(tab, capmap, stem) -> None:
    """The best scheme's predicted speedup (any family but dense QS: a compressed q̂, float32 q, token ids alone,
    a token tree, DSSD's q̂(x) with p down) over cloud-only AR and over dense QS across uplink rate and
    propagation, per compute profile and temperature, the letter in a cell naming the winner; one cloud serving
    many edges, the best scheme's capacity over AR's within the latency objective; and the family that wins each
    point (a compressed q̂, float32 q, token ids, DSSD, a tree) with its speedup over the best q̂."""
    from matplotlib.colors import LogNorm

    sparse = tab[tab.scheme != "qs"]
    profiles, temps = list(dict.fromkeys(sparse.profile)), sorted(sparse.temperature.unique())
    fig, axes = plt.subplots(len(profiles), 4 * len(temps), figsize=(5.0 * 4 * len(temps), 3.6 * len(profiles)),
                             squeeze=False, layout="constrained")  # fmt: skip
    letter = {name: spec.letter for name, spec in SCHEMES.items()}
    norm = LogNorm(vmin=0.1, vmax=10.0)
    im = None
    for i, prof in enumerate(profiles):
        for j, t in enumerate(temps):
            sub = sparse[(sparse.profile == prof) & np.isclose(sparse.temperature, t)]
            best = sub.loc[sub.groupby(["uplink_bps", "propagation_s"]).tokens_per_s.idxmax()]
            rates, props = sorted(best.uplink_bps.unique()), sorted(best.propagation_s.unique())
            panels = (("speedup_vs_ar", "over cloud-only AR"), ("speedup_vs_qs", "over dense QS"))
            for k, (col, what) in enumerate(panels):
                ax = axes[i, 4 * j + k]
                grid = best.pivot_table(index="propagation_s", columns="uplink_bps", values=col).reindex(
                    index=props, columns=rates)  # fmt: skip
                im = ax.imshow(grid.to_numpy(float), origin="lower", aspect="auto", cmap="RdBu", norm=norm)
                win = best.pivot_table(index="propagation_s", columns="uplink_bps", values="scheme",
                                       aggfunc="first").reindex(index=props, columns=rates)  # fmt: skip
                for a in range(len(props)):
                    for b in range(len(rates)):
                        ax.text(b, a, letter.get(win.iat[a, b], "?"), ha="center", va="center", fontsize=7)
                if np.isfinite(grid.to_numpy(float)).any():
                    ax.contour(grid.to_numpy(float), levels=[1.0], colors="black", linewidths=1.0)
                ax.set_xticks(range(len(rates))[::3], [f"{r / 1e6:g}" for r in rates[::3]])
                ax.set_yticks(range(len(props)), [f"{1e3 * d:g}" for d in props])
                ax.set_xlabel("uplink (Mb/s)")
                ax.set_ylabel("propagation (ms)")
                ax.set_title(f"{prof}\nT = {t:g}, speedup {what}", fontsize=9)
            cm = capmap[(capmap.profile == prof) & np.isclose(capmap.temperature, t)]
            _capacity_panel(axes[i, 4 * j + 2], cm, rates, props, letter, norm)
            axes[i, 4 * j + 2].set_title(f"{prof}\nT = {t:g}, capacity over AR's (many edges, one cloud)", fontsize=9)
            mine = tab[(tab.profile == prof) & np.isclose(tab.temperature, t)]
            _families_panel(axes[i, 4 * j + 3], mine, rates, props)
            axes[i, 4 * j + 3].set_title(f"{prof}\nT = {t:g}, the best family (its speedup over the best q̂)",
                                         fontsize=9)  # fmt: skip
    fig.colorbar(im, ax=axes.ravel().tolist(), label="speedup, or capacity ratio, of the best scheme (log)",
                 shrink=0.6)  # fmt: skip
    won = ", ".join(f"{SCHEMES[n].letter} = {SCHEMES[n].label}" for n in dict.fromkeys(sparse.scheme))
    tags = ", ".join(f"{tag} {name}" for name, tag in FAMILY_TAGS.items())
    fig.suptitle(f"Where it pays (trace prediction), the winner: {won}; black line: speedup 1; capacity panels, "
                 "dotted: 1x server-only SD (green), 1x static-batching AR (orange); family panels: "
                 f"{tags}")  # fmt: skip
    _save(fig, stem, constrained=True, dpi=110)


FAMILY_TAGS = {"sqs": "q̂", "sd": "q", "tokens": "id", "split": "D", "tree": "T"}


def _families_panel(ax, mine, rates, props) -> None:
    """Per (uplink, propagation): the family of exact answers to a narrow uplink whose best scheme is fastest
    (colour), and its tokens/s over the best compressed q̂'s (1.00 where a q̂ wins)."""
    from matplotlib.colors import ListedColormap

    from sqs.protocol.schemes.layout import FAMILIES
    from sqs.trace.families import family_of

    names = list(FAMILIES)
    fam = mine.assign(family=mine.scheme.map(family_of))
    best = fam.groupby(["propagation_s", "uplink_bps", "family"]).tokens_per_s.max().unstack("family")
    best = best.reindex(pd.MultiIndex.from_product([props, rates], names=["propagation_s", "uplink_bps"]))
    win = best.idxmax(axis=1)
    ratio = best.max(axis=1) / best["sqs"] if "sqs" in best else best.max(axis=1) * np.nan
    codes = np.array([names.index(w) if isinstance(w, str) else np.nan for w in win], float).reshape(len(props),
                                                                                                     len(rates))
    colors = [FAMILY_STYLE.get(n, ("tab:purple", "-"))[0] for n in names]
    ax.imshow(codes, origin="lower", aspect="auto", cmap=ListedColormap(colors), vmin=-0.5, vmax=len(names) - 0.5,
              alpha=0.55)  # fmt: skip
    for a in range(len(props)):
        for b in range(len(rates)):
            w, r = win.iat[a * len(rates) + b], ratio.iat[a * len(rates) + b]
            if isinstance(w, str):
                ax.text(b, a, f"{FAMILY_TAGS.get(w, w)}\n{r:.2f}", ha="center", va="center", fontsize=5)
    ax.set_xticks(range(len(rates))[::3], [f"{r / 1e6:g}" for r in rates[::3]])
    ax.set_yticks(range(len(props)), [f"{1e3 * d:g}" for d in props])
    ax.set_xlabel("uplink (Mb/s)")
    ax.set_ylabel("propagation (ms)")


# capacity_map's ratio to each anchor baseline, and the colour of its 1x line in fig_regimes' capacity panel
CAPACITY_BASELINES = {"capacity_vs_server_only": "tab:green", "capacity_vs_ar_static": "tab:orange"}


def _capacity_panel(ax, cm, rates, props, letter, norm) -> None:
    """The capacity ratio over (uplink, propagation); each cell: the winner's letter and its edge count; dotted, where
    the best scheme's capacity equals server-only SD's (green) and static-batching AR's (orange)."""
    grid = cm.pivot_table(index="propagation_s", columns="uplink_bps", values="capacity_vs_ar").reindex(
        index=props, columns=rates)  # fmt: skip
    shown = np.clip(grid.to_numpy(float), norm.vmin, None)  # no edge served: the scale's floor, not blank
    ax.imshow(shown, origin="lower", aspect="auto", cmap="RdBu", norm=norm)
    at = {(r.propagation_s, r.uplink_bps): r for r in cm.itertuples()}
    for a, d in enumerate(props):
        for b, r in enumerate(rates):
            row = at.get((d, r))
            if row is not None:
                ax.text(b, a, f"{letter.get(row.scheme, '-')}\n{row.capacity}", ha="center", va="center", fontsize=5)
    if np.isfinite(grid.to_numpy(float)).any():
        ax.contour(grid.to_numpy(float), levels=[1.0, 1.5], colors="black", linewidths=[1.0, 0.6],
                   linestyles=["solid", "dashed"])  # fmt: skip
    for col, color in CAPACITY_BASELINES.items():  # the same capacity read against the anchors' baselines
        other = cm.pivot_table(index="propagation_s", columns="uplink_bps", values=col).reindex(
            index=props, columns=rates).to_numpy(float) if col in cm else np.full(grid.shape, np.nan)  # fmt: skip
        if np.isfinite(other).any() and np.nanmin(other) < 1.0 < np.nanmax(other):
            ax.contour(other, levels=[1.0], colors=color, linewidths=1.0, linestyles="dotted")
    ax.set_xticks(range(len(rates))[::3], [f"{r / 1e6:g}" for r in rates[::3]])
    ax.set_yticks(range(len(props)), [f"{1e3 * d:g}" for d in props])
    ax.set_xlabel("uplink (Mb/s)")
    ax.set_ylabel("propagation (ms)")


@figure("regimes", inputs=("capacity.csv",))
def fig_capacity(cap, stem) -> None:
    """One cloud serving N edges: per-edge tokens/s, per-token latency against the objective and the cloud's
    busy accelerator-seconds per 1,000 tokens, for cloud-only AR (streamed; one round trip per token) and each
    scheme at its best setting; per compute profile (rows) and temperature (line style)."""
    profiles, temps = list(dict.fromkeys(cap.profile)), sorted(cap.temperature.unique())
    cols = (("tokens_per_s_per_edge", "tokens/s per edge", True),
            ("latency_per_token_s", "per-token latency (ms)", True),
            ("cloud_s_per_1k_tokens", "cloud accelerator-s per 1,000 tokens", True))  # fmt: skip
    fig, axes = plt.subplots(len(profiles), 3, figsize=(15, 3.8 * len(profiles)), squeeze=False)
    styles = ["-", "--", ":", "-."]
    colors = {**{n: s.style["color"] for n, s in SCHEMES.items()}, "ar-streamed": "black", "ar-per-token": "dimgray",
              "server-only": "tab:green", "ar-static": "tab:orange", "edge-only": "tab:purple"}  # fmt: skip
    for i, prof in enumerate(profiles):
        for j, (col, label, logy) in enumerate(cols):
            ax = axes[i, j]
            for k, t in enumerate(temps):
                sub = cap[(cap.profile == prof) & np.isclose(cap.temperature, t)]
                for scheme, rows in sub.groupby("scheme", sort=False):
                    y = rows[col] * (1e3 if col == "latency_per_token_s" else 1.0)
                    lab = f"{scheme} (capacity {int(rows.capacity.iloc[0])})" if k == len(temps) - 1 else None
                    ax.plot(rows.edges, y, styles[k % len(styles)], color=colors.get(scheme, "tab:gray"),
                            marker="o", ms=3, label=lab)  # fmt: skip
            if col == "latency_per_token_s":
                ax.axhline(1e3 * float(cap.objective_s.iloc[0]), color="red", lw=0.8, ls="--", label="objective")
            ax.set_xscale("log", base=2)
            if logy:
                ax.set_yscale("log")
            ax.set_xlabel("edges sharing one cloud")
            ax.set_ylabel(label)
            ax.set_title(f"{prof}" + (f"; T = {', '.join(f'{t:g}' for t in temps)} (line styles)" if j == 0 else ""),
                         fontsize=9)  # fmt: skip
            ax.grid(alpha=0.3, which="both")
        axes[i, 1].legend(fontsize=7)
    fig.suptitle("Many edges, one cloud (trace model, batched verification): capacity at the last temperature")
    _save(fig, stem)


FAMILY_STYLE = {"sqs": ("tab:blue", "-"), "sd": ("tab:gray", "--"), "tokens": ("tab:red", "-."),
                "split": ("tab:olive", ":"), "tree": ("tab:purple", "-.")}


ANCHOR_COLORS = {"SpecEdge": "tab:blue", "DSSD": "tab:red", "Early exits": "tab:green", "Spec-Bench SpS": "tab:purple",
                 "DiP-SD": "tab:orange"}


@figure("anchors", inputs=("anchors.csv",))
def fig_anchors(tab, stem) -> None:
    """Each anchor's published claim against this model's prediction under its own setup and baseline (left: the
    diagonal and a 25 % band; a signed change drawn as 1 + change; hollow: at the roofline's kernel cost, filled:
    at an eager stack's), and the same system against continuous-batching AR (right)."""
    from sqs.study.anchors import as_ratio

    priced = tab[tab.predicted.notna()].copy()
    priced["x"] = [as_ratio(c, v) for c, v in zip(priced.claim, priced.published, strict=True)]
    priced["y"] = [as_ratio(c, v) for c, v in zip(priced.claim, priced.predicted, strict=True)]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 5.2))
    lo, hi = 0.3, max(6.0, float(priced[["x", "y"]].max().max()) * 1.2)
    line = np.geomspace(lo, hi, 50)
    ax.plot(line, line, color="black", lw=0.8)
    ax.fill_between(line, line * 0.75, line * 1.25, color="gray", alpha=0.2, lw=0, label="within 25 %")
    for name, rows in priced.groupby("anchor", sort=False):
        color = ANCHOR_COLORS.get(name, "tab:gray")
        stack = rows.setup.str.contains("stack")
        for sel, face in ((~stack, "none"), (stack, color)):
            sub = rows[sel]
            if len(sub):
                what = "a stack's kernel cost" if face != "none" else "roofline"
                what = "its own call seconds" if name == "DSSD" else what
                ax.scatter(sub.x, sub.y, s=28, edgecolors=color, facecolors=face, label=f"{name}, {what} ({len(sub)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ticks = [t for t in (0.3, 0.5, 1, 2, 3, 5, 10, 20) if lo <= t <= hi]
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        axis.set_minor_formatter(plt.NullFormatter())
    ax.set_xlabel("published (ratio; 1 + change)")
    ax.set_ylabel("this model, the anchor's setup and baseline")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    ax.set_title("Each claim against its own baseline", fontsize=10)
    vs = tab[tab.vs_continuous_ar.notna()]
    names = list(dict.fromkeys(vs.anchor))
    for i, name in enumerate(names):
        y = vs[vs.anchor == name].vs_continuous_ar
        bx.scatter(np.full(len(y), i) + np.linspace(-0.2, 0.2, len(y)), y, s=18,
                   color=ANCHOR_COLORS.get(name, "tab:gray"))  # fmt: skip
    bx.axhline(1.0, color="black", lw=0.8)
    bx.set_xticks(range(len(names)), names)
    bx.set_yscale("log")
    bx.set_ylabel("the same system over continuous-batching AR")
    bx.grid(alpha=0.3, which="both", axis="y")
    bx.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    bx.set_title("Against continuous-batching AR, same hardware\n(SpecEdge, DiP-SD at AR's capacity point; DiP-SD if "
                 "its claim holds)", fontsize=10)
    unpriced = ", ".join(dict.fromkeys(tab[tab.predicted.isna()].anchor))
    fig.suptitle(f"The anchors (results/tables/anchors.csv); not predicted: {unpriced or 'none'}")
    _save(fig, stem)


@figure("families", inputs=("families.csv", "families_crossover.csv"))
def fig_families(tab, cross, stem) -> None:
    """Each family of exact answers to a narrow uplink (a compressed q̂, float32 q, token ids alone) at its best
    setting: speedup over cloud-only AR against the uplink rate with its 95 % interval over prompts, per regime
    (rows) and temperature (columns); dotted: where the compressed q̂ and another family cross; dashed: the
    regime's own rate."""
    regimes, temps = list(dict.fromkeys(tab.regime)), sorted(tab.temperature.unique())
    fig, axes = plt.subplots(len(regimes), len(temps), figsize=(5.2 * len(temps), 3.9 * len(regimes)),
                             squeeze=False, sharex=True)  # fmt: skip
    for i, reg in enumerate(regimes):
        for j, t in enumerate(temps):
            ax = axes[i, j]
            sub = tab[(tab.regime == reg) & np.isclose(tab.temperature, t)]
            for fam, rows in sub.groupby("family", sort=False):
                color, ls = FAMILY_STYLE.get(fam, ("black", ":"))
                x = rows.uplink_bps / 1e6
                ax.plot(x, rows.speedup_vs_ar, ls, color=color, label=rows.family_label.iloc[0])
                ax.fill_between(x, rows.speedup_vs_ar_ci_low, rows.speedup_vs_ar_ci_high, color=color, alpha=0.2,
                                lw=0)  # fmt: skip
            own = sub[sub.at_regime_rate.astype(str) == "True"].uplink_bps
            if len(own):
                ax.axvline(float(own.iloc[0]) / 1e6, color="black", lw=0.8, ls="--")
            notes = []
            for row in cross[(cross.regime == reg) & np.isclose(cross.temperature, t)].itertuples():
                if np.isfinite(row.crossover_bps):
                    ax.axvline(row.crossover_bps / 1e6, color=FAMILY_STYLE.get(row.family, ("black",))[0], lw=0.8,
                               ls=":")  # fmt: skip
                    notes.append(f"{row.family}: crossing {row.crossover_bps / 1e6:.3g} Mb/s")
                else:  # no crossing in the range: how far apart they stay, as q̂'s tokens/s over the other's
                    notes.append(f"{row.family}: no crossing, q̂ at {row.ratio_at_lowest_rate:.3g}–"
                                 f"{row.ratio_at_highest_rate:.3g}×")  # fmt: skip
            ax.axhline(1.0, color="black", lw=0.6)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("uplink (Mb/s)")
            ax.set_ylabel("speedup over cloud-only AR")
            ax.set_title(f"{reg}, T = {t:g}\n" + "; ".join(notes), fontsize=8)
            ax.grid(alpha=0.3, which="both")
        axes[i, 0].legend(fontsize=7)
    fig.suptitle("Sending a distribution against sending tokens (trace model, each family at its best setting)")
    _save(fig, stem)


@figure("families", inputs=("families_block.csv",))
def fig_families_block(tab, stem) -> None:
    """Block verification against token verification of the same drafts (trace model): its gain in tokens a
    round against the mean draft length, per q̂ scheme, with 95 % intervals over prompts; per regime (rows) and
    temperature (columns)."""
    regimes, temps = list(dict.fromkeys(tab.regime)), sorted(tab.temperature.unique())
    fig, axes = plt.subplots(len(regimes), len(temps), figsize=(5.2 * len(temps), 3.9 * len(regimes)),
                             squeeze=False, sharey=True)  # fmt: skip
    colors = plt.get_cmap("tab10")
    schemes = list(dict.fromkeys(tab.scheme))
    for i, reg in enumerate(regimes):
        for j, t in enumerate(temps):
            ax = axes[i, j]
            sub = tab[(tab.regime == reg) & np.isclose(tab.temperature, t)]
            seen: dict = {}  # settings drawn so far per scheme: each gets its own marker and line
            for name, rows in sub.groupby(["scheme", "setting"], sort=False):
                rows = rows.sort_values("mean_draft_len")
                color = colors(schemes.index(name[0]) % 10)
                mine = seen.setdefault(name[0], [])
                fmt = ("o-", "s--", "^:", "d-.")[len(mine) % 4]
                mine.append(name[1])
                err = [rows.round_gain - rows.round_gain_ci_low, rows.round_gain_ci_high - rows.round_gain]
                ax.errorbar(rows.mean_draft_len, rows.round_gain, yerr=err, fmt=fmt, ms=3, lw=0.8, capsize=2,
                            color=color, label=f"{name[0]} {name[1]}")  # fmt: skip
            ax.axhline(1.0, color="black", lw=0.6)
            ax.set_xlabel("drafts a round (token verification)")
            ax.set_ylabel("tokens a round, block over token")
            ax.set_title(f"{reg}, T = {t:g}", fontsize=9)
            ax.grid(alpha=0.3)
        axes[i, 0].legend(fontsize=6, ncol=2)
    fig.suptitle("Block verification's gain (Sun et al.): the same drafts, q̂ and bits (trace model)")
    _save(fig, stem)


@figure("", inputs=("net_link_batches.csv", "net_link.csv"))
def fig_net_link(batches, summary, stem) -> None:
    """Per batch on a real shaped link: the latency model's price against the measured round trip."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.6))
    colors = plt.get_cmap("tab10")
    top = float(max(batches.measured_s.max(), batches.predicted_s.max())) * 1.05
    for i, (scheme, sub) in enumerate(batches.groupby("scheme", sort=False)):
        row = summary[summary.scheme == scheme].iloc[0]
        ax1.scatter(sub.measured_s * 1e3, sub.predicted_s * 1e3, s=12, color=colors(i), alpha=0.7,
                    label=f"{scheme}: mean |error| {row.mean_abs_rel_error:.1%}")  # fmt: skip
    ax1.plot([0, top * 1e3], [0, top * 1e3], color="k", lw=0.8, ls="--")
    ax1.set_xlabel("measured batch latency (ms): edge + round trip on the link")
    ax1.set_ylabel("latency model (ms): same messages and compute")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    x = np.arange(len(summary))
    ax2.bar(x - 0.2, summary.measured_link_s * 1e3, width=0.4, label="measured link time", color="tab:blue")
    ax2.bar(x + 0.2, summary.predicted_link_s * 1e3, width=0.4, color="tab:orange",
            label="modelled: bytes on the link (beyond the shaper's bucket) / rate\n+ propagation + software seconds")
    for xi, r in zip(x, summary.itertuples(), strict=True):
        note = f"{r.uplink_message_bytes:.0f} B/msg"
        if "wire_bytes_per_uplink" in summary.columns and r.wire_bytes_per_uplink == r.wire_bytes_per_uplink:
            note += f"\n{r.wire_bytes_per_uplink:.0f} B on the wire"
        ax2.annotate(note, (xi, max(r.measured_link_s, r.predicted_link_s) * 1e3), ha="center", va="bottom", fontsize=7)
    ax2.set_xticks(x, summary.scheme)
    ax2.set_ylabel("link time per batch (ms)")
    ax2.set_title("uplink + propagation + downlink", fontsize=10)
    ax2.set_ylim(0, float(summary[["measured_link_s", "predicted_link_s"]].max().max()) * 1e3 * 1.45)
    ax2.legend(fontsize=8, loc="upper left")
    ax2.grid(alpha=0.3, axis="y")
    _save(fig, stem)


@figure("", inputs=("net_capacity.csv",))
def fig_net_capacity(cap, stem) -> None:
    """Edge processes against one batched-verification server on this machine: the clock against the capacity
    model's prediction (system throughput, per-token latency), with the error per edge count."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    pairs = (("system_tokens_per_s", "system throughput (tokens/s)", "system_error"),
             ("latency_per_token_s", "per-token latency (s)", "latency_error"))  # fmt: skip
    for ax, (col, label, err) in zip(axes, pairs, strict=True):
        ax.plot(cap.edges, cap[col], "o-", color="tab:blue", label="measured (clock, every edge decoding)")
        if f"{col}_whole_run" in cap:
            ax.plot(cap.edges, cap[f"{col}_whole_run"], ":", color="tab:blue", alpha=0.6,
                    label="measured over the whole run (start and tail)")  # fmt: skip
        ax.plot(cap.edges, cap[f"pred_{col}"], "s--", color="tab:orange", label="capacity model")
        for r in cap.itertuples():
            ax.annotate(f"{getattr(r, err):+.0%}", (r.edges, getattr(r, f"pred_{col}")), fontsize=7,
                        textcoords="offset points", xytext=(4, 4))  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_xlabel("edge processes")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Many edges, one batched cloud, on this machine: model (error in %) against the clock")
    _save(fig, stem)


@figure("", inputs=("net_load.csv",))
def fig_net_load(load, stem, scheme: str, batched=None) -> None:
    """Concurrent edge sessions against one server: throughput and each session's latency per token
    (``batched``: the same with batched verification, dashed)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    runs = [(load, "-", "one forward per uplink")] + ([(batched, "--", "batched verification")] if batched is not None
                                                      else [])  # fmt: skip
    notes = []
    for tab, ls, label in runs:
        ax1.plot(tab.sessions, tab.tokens_per_s, marker="o", ls=ls, color="tab:blue", label=label)
        ax2.plot(tab.sessions, tab.latency_per_token_s * 1e3, marker="s", ls=ls, color="tab:red", label=label)
        same = "identical to alone" if tab.identical_to_alone.all() else "not identical to alone"
        notes.append(f"{label}: {same}, lost {int(tab.lost.sum())}")
    for ax, ylabel in ((ax1, "tokens/s, all sessions together"), (ax2, "latency per token, per session (ms)")):
        ax.set_xlabel("concurrent edge sessions")
        ax.set_ylabel(ylabel)
        ax.set_xscale("log", base=2)
        ax.set_xticks(list(load.sessions), [str(n) for n in load.sessions])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{scheme} sessions against one server; " + "; ".join(notes), fontsize=9)
    _save(fig, stem)
