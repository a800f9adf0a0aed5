rule prompts:
    """Prompts and reference continuations (committed openers, a text file, or an HF dataset)."""
    output:
        "results/prompts/prompts.jsonl",
    params:
        data=config["data"],
    log:
        "results/logs/prompts.log",
    conda:
        "../../envs/sqs.yaml"
    script:
        "../scripts/prompts.py"


rule prepare_models:
    """Embedded conversion and distilled draft (cached in $SQS_CACHE_DIR), vocabulary check."""
    output:
        "results/models/models.json",
    params:
        models=config["models"],
        versions=MODEL_VERSIONS,
    log:
        "results/logs/prepare_models.log",
    conda:
        "../../envs/sqs.yaml"
    threads: STUDY.resources.model_threads
    resources:
        timed_cpus=timed_cpus,
        mem_mb=STUDY.resources.mem_mb,
        runtime=120,
        gpu=STUDY.resources.gpu,
    script:
        "../scripts/prepare_models.py"


rule cache_logits:
    """Teacher-forced SLM and LLM logits along the reference continuations, full float32."""
    input:
        prompts="results/prompts/prompts.jsonl",
        models="results/models/models.json",
    output:
        meta=f"{CACHE_DIR}/meta.json",
        index=f"{CACHE_DIR}/index.json",
        slm=f"{CACHE_DIR}/slm_logits.npy",
        llm=f"{CACHE_DIR}/llm_logits.npy",
    params:
        models=config["models"],
        cache=config["cache"],
    log:
        "results/logs/cache_logits.log",
    conda:
        "../../envs/sqs.yaml"
    threads: STUDY.resources.model_threads
    resources:
        timed_cpus=timed_cpus,
        mem_mb=STUDY.resources.mem_mb,
        runtime=60,
        gpu=STUDY.resources.gpu,
    script:
        "../scripts/cache_logits.py"


rule cache_stats:
    """Support size holding 1 - alpha of the mass, and E[1 - TV], per temperature (no model run)."""
    input:
        meta=f"{CACHE_DIR}/meta.json",
    output:
        "results/tables/cache_stats.csv",
    params:
        temperatures=config["analysis"]["temperatures"],
        alpha=config["decode"]["alpha"],
    log:
        "results/logs/cache_stats.log",
    conda:
        "../../envs/sqs.yaml"
    threads: 1
    resources:
        timed_cpus=timed_cpus,  # a core of its own: calibrate_compute times itself meanwhile
    script:
        "../scripts/cache_stats.py"


rule calibrate_compute:
    """This machine's model calls and protocol work, timed and fitted: the `calibrated` profile, and the
    protocol prices of every named one (sqs.system.compute)."""
    input:
        models="results/models/models.json",
        meta=f"{CACHE_DIR}/meta.json",
    output:
        json=COMPUTE_CALIBRATION,
        table="results/tables/compute_calibration.csv",
        png=figure_outputs("calibrate_compute"),
        pdf=figure_outputs("calibrate_compute", "pdf"),
    params:
        models=config["models"],
        decode=config["decode"],
    log:
        "results/logs/calibrate_compute.log",
    conda:
        "../../envs/sqs.yaml"
    threads: STUDY.resources.decode_threads  # as a decoding job runs: the calibrated profile is that job
    resources:
        timed_cpus=CPUS,  # every core: nothing else runs while it times the models
        mem_mb=STUDY.resources.mem_mb,
        runtime=30,
        gpu=STUDY.resources.gpu,
    script:
        "../scripts/calibrate_compute.py"
