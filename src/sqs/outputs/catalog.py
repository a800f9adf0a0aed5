"""The names of the figures the workflow draws, in one light module (no plotting library imported), so
the Snakefile can list its targets at parse time."""

# drawn together from summary.csv and cache_stats.csv by sqs.outputs.figures.draw_all (rule figures)
FIGURES = (
    "fig2_latency_resampling_vs_temperature",
    "fig4_latency_vs_K_and_beta",
    "fig5_csqs_adaptivity",
    "fig6_ksqs_vs_csqs",
    "fig_baselines",
    "fig_bound_vs_measured",
    "fig_variants",
    "fig_support_size_vs_temperature",
)
# one each by the trace rules (trace.smk)
TRACE_FIGURES = ("fig_trace_calibration", "fig_theorem2", "fig_sweep_heatmap", "fig_policy_headroom", "fig_regimes")
# the compute calibration (rule calibrate_compute)
COMPUTE_FIGURES = ("fig_compute_calibration",)
