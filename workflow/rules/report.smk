# The outputs people read: summary.csv, the paper figures, the verdicts, the MLflow mirror.


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
    """Per regime, the paper's figures (the trace model over every cached prompt, 95 % intervals, the live cells
    beside) and the live cells' own; the variant cells and the cache's statistics once."""
    input:
        summary="results/tables/summary.csv",
        stats="results/tables/cache_stats.csv",
        trace="results/tables/trace_calibration.csv",
        sweep="results/tables/sweep_dense.csv",
    output:
        png=figure_outputs("figures"),
        pdf=figure_outputs("figures", "pdf"),
    params:
        regimes=REGIMES,
        figures=config["analysis"]["figures"],
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
        figures=MLFLOW_FIGURES,
        tables=["results/tables/sweep_dense.csv", "results/tables/verdicts.csv"],
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
