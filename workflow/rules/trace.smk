# Trace analyses from the logits cache (no model run): calibration, headroom, Theorem 2, the dense sweep.


rule trace_calibration:
    """Every live speculative cell predicted from the logits cache over its own prompts (no model run), beside
    its measurement, in its regime."""
    input:
        summary="results/tables/summary.csv",
        meta=f"{CACHE_DIR}/meta.json",
        compute=CALIBRATION,
    output:
        table="results/tables/trace_calibration.csv",
        png=figure_outputs("trace_calibration"),
        pdf=figure_outputs("trace_calibration", "pdf"),
    params:
        config={k: config[k] for k in ("models", "decode", "link", "compute", "regimes", "analysis")},
    log:
        "results/logs/trace_calibration.log",
    conda:
        "../../envs/sqs.yaml"
    threads: 1
    resources:
        timed_cpus=timed_cpus,
        mem_mb=STUDY.resources.mem_mb,
        runtime=30,
    script:
        "../scripts/trace_calibration.py"


rule policy_headroom:
    """How much any draft-length rule could gain over the best static one, from the cache."""
    input:
        summary="results/tables/summary.csv",
        meta=f"{CACHE_DIR}/meta.json",
        compute=CALIBRATION,
    output:
        table="results/tables/policy_headroom.csv",
        png=figure_outputs("policy_headroom"),
        pdf=figure_outputs("policy_headroom", "pdf"),
    params:
        config={k: config[k] for k in ("models", "decode", "link", "analysis", "compute")},
    log:
        "results/logs/policy_headroom.log",
    conda:
        "../../envs/sqs.yaml"
    threads: 1
    resources:
        timed_cpus=timed_cpus,
    script:
        "../scripts/policy_headroom.py"


rule theorem2:
    """C-SQS's running dropped mass along the cached trace against Theorem 2's bound, for several eta."""
    input:
        meta=f"{CACHE_DIR}/meta.json",
    output:
        table="results/tables/theorem2.csv",
        png=figure_outputs("theorem2"),
        pdf=figure_outputs("theorem2", "pdf"),
    params:
        theorem2=config["analysis"]["theorem2"],
        alpha=config["decode"]["alpha"],
        ell=config["decode"]["ell"],
    log:
        "results/logs/theorem2.log",
    conda:
        "../../envs/sqs.yaml"
    threads: 1
    resources:
        timed_cpus=timed_cpus,  # a core of its own: calibrate_compute times itself meanwhile
    script:
        "../scripts/theorem2.py"


rule sweep_dense:
    """Per regime, the dense grid and the paper figures' settings predicted from the logits cache over every
    cached prompt (expected sequences, 95 % intervals over prompts), AR beside; the best setting per T; the heat
    maps."""
    input:
        summary="results/tables/summary.csv",
        meta=f"{CACHE_DIR}/meta.json",
        compute=CALIBRATION,
    output:
        table="results/tables/sweep_dense.csv",
        best="results/tables/sweep_best_per_temperature.csv",
        png=figure_outputs("sweep_dense"),
        pdf=figure_outputs("sweep_dense", "pdf"),
    params:
        config={k: config[k] for k in ("models", "decode", "link", "compute", "regimes", "analysis")},
    log:
        "results/logs/sweep_dense.log",
    conda:
        "../../envs/sqs.yaml"
    threads: config["analysis"]["sweep"]["workers"]
    resources:
        timed_cpus=timed_cpus,
        mem_mb=STUDY.resources.mem_mb,
        runtime=60,
    script:
        "../scripts/sweep_dense.py"


rule verdicts:
    """Per regime and temperature, which of K-SQS (its best K) and C-SQS (its best beta) is faster with
    non-overlapping 95 % intervals, and whether C-SQS's adaptivity (eta > 0) beats eta = 0."""
    input:
        "results/tables/sweep_dense.csv",
    output:
        report("results/tables/verdicts.csv", category="Tables", caption="../report/verdicts.rst"),
    params:
        figures=config["analysis"]["figures"],
    log:
        "results/logs/verdicts.log",
    conda:
        "../../envs/sqs.yaml"
    script:
        "../scripts/verdicts.py"


rule regimes:
    """Where it pays: speedup over AR and dense QS across uplink rate and propagation, per compute profile
    and temperature, from the logits cache; live cells beside three of its points; one cloud serving many
    edges (capacity against AR's within the latency objective)."""
    input:
        summary="results/tables/summary.csv",
        meta=f"{CACHE_DIR}/meta.json",
        compute=COMPUTE_CALIBRATION,
    output:
        table="results/tables/regimes.csv",
        validation="results/tables/regimes_validation.csv",
        capacity="results/tables/capacity.csv",
        capacity_map="results/tables/capacity_map.csv",
        png=figure_outputs("regimes"),
        pdf=figure_outputs("regimes", "pdf"),
    params:
        config={k: config[k] for k in ("models", "decode", "link", "analysis", "compute", "regimes")},
    log:
        "results/logs/regimes.log",
    conda:
        "../../envs/sqs.yaml"
    threads: 1
    resources:
        timed_cpus=timed_cpus,
        mem_mb=STUDY.resources.mem_mb,
        runtime=30,
    script:
        "../scripts/regimes.py"


rule families:
    """Does sending a compressed distribution pay? In each regime, each family (a compressed q_hat, float32 q,
    token ids alone) at its best of analysis.regimes' settings per temperature and uplink rate (0.01-100 Mb/s
    and the regime's own), 95 % intervals over prompts, verdicts by non-overlapping intervals, the rate
    where the compressed q_hat and each other family cross, and block verification against token verification
    of every q_hat cell."""
    input:
        summary=LIVE_PRICES,
        meta=f"{CACHE_DIR}/meta.json",
        compute=CALIBRATION,
    output:
        table="results/tables/families.csv",
        crossover="results/tables/families_crossover.csv",
        block="results/tables/families_block.csv",
        png=figure_outputs("families"),
        pdf=figure_outputs("families", "pdf"),
    params:
        config={k: config[k] for k in ("models", "decode", "link", "compute", "regimes", "analysis")},
    log:
        "results/logs/families.log",
    conda:
        "../../envs/sqs.yaml"
    threads: 1
    resources:
        timed_cpus=timed_cpus,
        mem_mb=STUDY.resources.mem_mb,
        runtime=30,
    script:
        "../scripts/families.py"
