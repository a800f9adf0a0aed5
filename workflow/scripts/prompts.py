"""Thin wrapper: the prompt set (see sqs.study.prompts)."""

import logging

from sqs.study.prompts import write_prompt_records

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)  # noqa: F821
n = write_prompt_records(snakemake.params.data, snakemake.output[0])  # noqa: F821
logging.info("wrote %d prompts", n)
