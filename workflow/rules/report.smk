# The outputs people read: summary.csv, the paper figures, the MLflow mirror.


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
        measured=[f"results/figures/measured/{f}.png" for f in FIGURES],
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
        figures=expand("results/figures/{f}.png", f=[*FIGURES, *TRACE_FIGURES, *COMPUTE_FIGURES]),
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
