# sqs reproduction workflow. `snakemake --cores 8` from the repository root.
configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"


localrules:
    all,


rule all:
    input:
        "results/tables/toy_summary.csv",
