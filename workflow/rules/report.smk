rule aggregate:
    """One row per grid cell: results/tables/summary.csv (a contract; see ARCHITECTURE.md)."""
    input:
        cell_outputs("metrics.json"),
    output:
        report("results/tables/summary.csv", category="Tables", caption="../report/summary.rst"),
    log:
        "results/logs/aggregate.log",
    conda:
        "../../envs/sqs.yaml"
    script:
        "../scripts/aggregate.py"


rule figures:
    """Every paper figure and ablation, PNG and PDF."""
    input:
        summary="results/tables/summary.csv",
        stats="results/tables/cache_stats.csv",
        trace="results/tables/trace_calibration.csv",
    output:
        png=[report(f"results/figures/{f}.png", category="Figures", caption=f"../report/{f}.rst") for f in FIGURES],
        pdf=[f"results/figures/{f}.pdf" for f in FIGURES],
    log:
        "results/logs/figures.log",
    conda:
        "../../envs/sqs.yaml"
    script:
        "../scripts/figures.py"


rule mlflow_log:
    """Mirror the files into MLflow: a parent run with the figures, a child run per cell (idempotent)."""
    input:
        summary="results/tables/summary.csv",
        metrics=cell_outputs("metrics.json"),
        records=cell_outputs("records.jsonl"),
        figures=expand("results/figures/{f}.png", f=[*FIGURES, "fig_trace_calibration", "fig_theorem2",
                                                    "fig_sweep_heatmap", "fig_policy_headroom"]),
    output:
        "results/mlflow/runs.json",
    params:
        tracking_uri=tracking_uri(),
        experiment=config["mlflow"]["experiment"],
        config=config,
    log:
        "results/logs/mlflow_log.log",
    conda:
        "../../envs/sqs.yaml"
    script:
        "../scripts/mlflow_log.py"


rule trace_calibration:
    """Every live speculative cell predicted from the logits cache (no model run), beside its measurement."""
    input:
        summary="results/tables/summary.csv",
        meta=f"{CACHE_DIR}/meta.json",
    output:
        table="results/tables/trace_calibration.csv",
        png=report("results/figures/fig_trace_calibration.png", category="Figures",
                   caption="../report/fig_trace_calibration.rst"),
        pdf="results/figures/fig_trace_calibration.pdf",
    params:
        config={k: config[k] for k in ("decode", "link")},
    log:
        "results/logs/trace_calibration.log",
    conda:
        "../../envs/sqs.yaml"
    threads: 1
    resources:
        timed_cpus=timed_cpus,
        mem_mb=config["resources"]["mem_mb"],
        runtime=30,
    script:
        "../scripts/trace_calibration.py"


rule policy_headroom:
    """How much any draft-length rule could gain over the best static one, from the cache (issue #7)."""
    input:
        summary="results/tables/summary.csv",
        meta=f"{CACHE_DIR}/meta.json",
    output:
        table="results/tables/policy_headroom.csv",
        png=report("results/figures/fig_policy_headroom.png", category="Figures",
                   caption="../report/fig_policy_headroom.rst"),
        pdf="results/figures/fig_policy_headroom.pdf",
    params:
        config={k: config[k] for k in ("decode", "link", "analysis")},
    log:
        "results/logs/policy_headroom.log",
    conda:
        "../../envs/sqs.yaml"
    script:
        "../scripts/policy_headroom.py"


rule theorem2:
    """C-SQS's running dropped mass along the cached trace against Theorem 2's bound, for several eta."""
    input:
        meta=f"{CACHE_DIR}/meta.json",
    output:
        table="results/tables/theorem2.csv",
        png=report("results/figures/fig_theorem2.png", category="Figures", caption="../report/fig_theorem2.rst"),
        pdf="results/figures/fig_theorem2.pdf",
    params:
        theorem2=config["analysis"]["theorem2"],
        alpha=config["decode"]["alpha"],
        ell=config["decode"]["ell"],
    log:
        "results/logs/theorem2.log",
    conda:
        "../../envs/sqs.yaml"
    script:
        "../scripts/theorem2.py"


rule sweep_dense:
    """The dense paper grid predicted from the logits cache (compute profiled on the live cells) and its heat map."""
    input:
        summary="results/tables/summary.csv",
        meta=f"{CACHE_DIR}/meta.json",
    output:
        table="results/tables/sweep_dense.csv",
        best="results/tables/sweep_best_per_temperature.csv",
        png=report("results/figures/fig_sweep_heatmap.png", category="Figures",
                   caption="../report/fig_sweep_heatmap.rst"),
        pdf="results/figures/fig_sweep_heatmap.pdf",
    params:
        config={k: config[k] for k in ("decode", "link")},
        grid=config["analysis"]["sweep"],
    log:
        "results/logs/sweep_dense.log",
    conda:
        "../../envs/sqs.yaml"
    threads: config["analysis"]["sweep"]["workers"]
    resources:
        timed_cpus=timed_cpus,
        mem_mb=config["resources"]["mem_mb"],
        runtime=60,
    script:
        "../scripts/sweep_dense.py"


rule policy_study:
    """Issue #7 studies, live: adaptive vs static (L, ell) over the channel; preemptive drafting on and off."""
    input:
        prompts="results/prompts/prompts.jsonl",
        models="results/models/models.json",
    output:
        table="results/tables/{study}.csv",
        png=report("results/figures/fig_{study}.png", category="Figures", caption="../report/fig_{study}.rst"),
        pdf="results/figures/fig_{study}.pdf",
    wildcard_constraints:
        study="adaptive_vs_static|preemptive",
    params:
        config={k: config[k] for k in ("models", "decode", "link", "analysis")},
    log:
        "results/logs/{study}.log",
    conda:
        "../../envs/sqs.yaml"
    threads: config["resources"]["model_threads"]
    resources:
        timed_cpus=timed_cpus,
        mem_mb=config["resources"]["mem_mb"],
        runtime=120,
        gpu=config["resources"]["gpu"],
    script:
        "../scripts/policy_study.py"
