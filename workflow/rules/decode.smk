rule decode_cell:
    """One grid cell: every prompt decoded live through Edge and Cloud (bytes only between them)."""
    input:
        prompts="results/prompts/prompts.jsonl",
        models="results/models/models.json",
        compute=CALIBRATION,
    output:
        records=f"results/runs/{paramspace.wildcard_pattern}/records.jsonl",
        metrics=f"results/runs/{paramspace.wildcard_pattern}/metrics.json",
    params:
        cell=lambda wildcards: dict(paramspace.instance(wildcards)),
        config=lambda wildcards: cell_config(config, wildcards.regime, wildcards.policy),
    log:
        f"results/logs/decode/{paramspace.wildcard_pattern}.log",
    conda:
        "../../envs/sqs.yaml"
    threads: STUDY.resources.decode_threads
    resources:
        timed_cpus=timed_cpus,
        mem_mb=STUDY.resources.mem_mb,
        runtime=60,
        gpu=STUDY.resources.gpu,
    script:
        "../scripts/decode_cell.py"
