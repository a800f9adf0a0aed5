# sqs reproduction workflow. `snakemake --cores 8` from the repository root reads config/config.yaml (the
# embedded offline default, in the paper and the practical regimes). A --configfile replaces it: config/paper.yaml
# (the paper's GPT-Neo/LM1B setup) stands alone; an overlay names its base first, as Snakemake merges
# configfiles in order: --configfile config/config.yaml config/code.yaml
if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"



include: "workflow/rules/common.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/decode.smk"
include: "workflow/rules/trace.smk"
include: "workflow/rules/studies.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/simulate.smk"


report: "workflow/report/workflow.rst"


localrules:
    all,
    toy,
    policies,
    prompts,
    cache_stats,
    aggregate,
    figures,
    mlflow_log,
    theorem2,
    policy_headroom,
    toy_simulation,
    verdicts,


rule all:
    input:
        ALL_TARGETS,


rule policies:
    """The live drafting studies: adaptive vs static (L, ell), and preemptive drafting."""
    input:
        STUDY_TABLES,
        "results/tables/policy_headroom.csv",


rule toy:
    """Every scheme on the exact toy model pair (no language model needed)."""
    input:
        "results/tables/toy_summary.csv",
