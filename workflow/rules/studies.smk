# The live drafting studies (target `policies`, not part of `all`).


rule policy_study:
    """The drafting studies, live: adaptive vs static (L, ell) over the channel; preemptive drafting on and off."""
    input:
        prompts="results/prompts/prompts.jsonl",
        models="results/models/models.json",
        compute=CALIBRATION,
    output:
        table="results/tables/{study}.csv",
        png=report("results/figures/fig_{study}.png", category="Figures", caption="../report/fig_{study}.rst"),
        pdf="results/figures/fig_{study}.pdf",
    wildcard_constraints:
        study="|".join(STUDIES),
    params:
        config={k: config[k] for k in ("models", "decode", "link", "analysis", "compute")},
    log:
        "results/logs/{study}.log",
    conda:
        "../../envs/sqs.yaml"
    threads: STUDY.resources.model_threads
    resources:
        timed_cpus=timed_cpus,
        mem_mb=STUDY.resources.mem_mb,
        runtime=120,
        gpu=STUDY.resources.gpu,
    script:
        "../scripts/policy_study.py"


rule anchors:
    """The anchors' published claims (SpecEdge, DSSD, early exits, SLED, DiP-SD) beside this model's prediction under
    each one's own setup and baseline, and the same system against continuous-batching AR (docs/capacity.md)."""
    input:
        rows=str(DSSD_ROWS),  # package data: an absolute path, whatever --directory says
    output:
        table="results/tables/anchors.csv",
        png=figure_outputs("anchors"),
        pdf=figure_outputs("anchors", "pdf"),
    log:
        "results/logs/anchors.log",
    conda:
        "../../envs/sqs.yaml"
    threads: 1
    resources:
        timed_cpus=timed_cpus,
    script:
        "../scripts/anchors.py"
