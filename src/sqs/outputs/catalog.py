"""The names of the figures the workflow draws, in one light module (no plotting library imported), so
the Snakefile can list its targets at parse time."""

# per regime, in results/figures/<regime>/: the paper's figures from the trace model over every cached prompt
# (95 % intervals over prompts) with the regime's live cells beside them, and the live cells' own figures
# (rule figures; the heat map: rule sweep_dense)
REGIME_FIGURES = (
    "fig2_latency_resampling_vs_temperature",
    "fig4_latency_vs_K_and_beta",
    "fig5_csqs_adaptivity",
    "fig6_ksqs_vs_csqs",
    "fig_baselines",
    "fig_bound_vs_measured",
)
HEATMAP = "fig_sweep_heatmap"  # per regime too, by rule sweep_dense
# per regime, in results/figures/<regime>/measured/: the live cells again, timed by this machine's wall clock
MEASURED_FIGURES = ("fig_baselines",)
# once, in results/figures/: every regime's variant cells, and the logits cache's statistics (rule figures)
FIGURES = ("fig_variants", "fig_support_size_vs_temperature")
# one each by the trace rules (trace.smk)
TRACE_FIGURES = ("fig_trace_calibration", "fig_theorem2", "fig_policy_headroom", "fig_regimes")
# the compute calibration (rule calibrate_compute)
COMPUTE_FIGURES = ("fig_compute_calibration",)
