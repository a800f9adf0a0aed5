rule toy_simulation:
    """Every scheme on the exact toy model pair; one summary row per scheme."""
    output:
        "results/tables/toy_summary.csv",
    params:
        simulation=lambda wildcards: config["simulation"],
    log:
        "results/logs/toy_simulation.log",
    conda:
        "../../envs/sqs.yaml"
    threads: 1
    resources:
        timed_cpus=timed_cpus,
        mem_mb=1000,
        runtime=30,
    script:
        "../scripts/simulate.py"
