"""The lossless check: does a scheme leave the LLM's output law untouched?

:func:`gof_test` is a goodness-of-fit test of counts against a target law, calibrated at any vocabulary
size and sample count; :func:`check_scheme` runs a scheme through a real Edge and Cloud on an exact toy
target and tests the law of the tokens they emit (``sqs check`` on the command line). The suite's law
tests use the same two functions; :mod:`sqs.lossless.calibration` measures their calibration and power.
"""

from sqs.lossless.gof import GofResult, detectable_tv, gof_power, gof_test
from sqs.lossless.harness import CheckResult, check_scheme

__all__ = ["CheckResult", "GofResult", "check_scheme", "detectable_tv", "gof_power", "gof_test"]
