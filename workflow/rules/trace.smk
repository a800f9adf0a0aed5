# Trace analyses from the logits cache (no model run): calibration, headroom, Theorem 2, the dense sweep.


rule trace_calibration:
    """Every live speculative cell predicted from the logits cache (no model run), beside its measurement."""
    input:
        summary="results/tables/summary.csv",
        meta=f"{CACHE_DIR}/meta.json",
        compute=COMPUTE_CALIBRATION if needs_calibration(config) else [],
    output:
        table="results/tables/trace_calibration.csv",
        png=report("results/figures/fig_trace_calibration.png", category="Figures",
                   caption="../report/fig_trace_calibration.rst"),
        pdf="results/figures/fig_trace_calibration.pdf",
    params:
        config={k: config[k] for k in ("models", "decode", "link", "compute")},
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
        compute=COMPUTE_CALIBRATION if needs_calibration(config) else [],
    output:
        table="results/tables/policy_headroom.csv",
        png=report("results/figures/fig_policy_headroom.png", category="Figures",
                   caption="../report/fig_policy_headroom.rst"),
        pdf="results/figures/fig_policy_headroom.pdf",
    params:
        config={k: config[k] for k in ("models", "decode", "link", "analysis", "compute")},
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
        compute=COMPUTE_CALIBRATION if needs_calibration(config) else [],
    output:
        table="results/tables/sweep_dense.csv",
        best="results/tables/sweep_best_per_temperature.csv",
        png=report("results/figures/fig_sweep_heatmap.png", category="Figures",
                   caption="../report/fig_sweep_heatmap.rst"),
        pdf="results/figures/fig_sweep_heatmap.pdf",
    params:
        config={k: config[k] for k in ("models", "decode", "link", "compute")},
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


rule regimes:
    """Where it pays: speedup over AR and dense QS across uplink rate and propagation, per compute profile
    and temperature, from the logits cache; live cells beside three of its points."""
    input:
        summary="results/tables/summary.csv",
        meta=f"{CACHE_DIR}/meta.json",
        compute=COMPUTE_CALIBRATION,
    output:
        table="results/tables/regimes.csv",
        validation="results/tables/regimes_validation.csv",
        png=report("results/figures/fig_regimes.png", category="Figures", caption="../report/fig_regimes.rst"),
        pdf="results/figures/fig_regimes.pdf",
    params:
        config={k: config[k] for k in ("models", "decode", "link", "analysis", "compute")},
    log:
        "results/logs/regimes.log",
    conda:
        "../../envs/sqs.yaml"
    threads: 1
    resources:
        timed_cpus=timed_cpus,
        mem_mb=config["resources"]["mem_mb"],
        runtime=30,
    script:
        "../scripts/regimes.py"
