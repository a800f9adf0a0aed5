"""The mutation score of `make mutate`, per file and for src/sqs/protocol/, and every survivor by name.

Reads mutmut 3's own result files (mutants/**/*.meta) through its API, in the current directory (else the
repository root) after `mutmut run`. Survivors listed in EQUIVALENT (each with the reason it cannot change an
observable result; docs/tests.md#mutation-testing) are counted apart; the score is killed / (killed +
survived), mutants no test reaches counted as survived. Names follow mutmut's numbering inside a function:
a change to that function renumbers them, and the list is read again.
"""

from __future__ import annotations

import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

_DTYPE = "drops a dtype the array already has, or numpy's default, or beside a float64 operand"
_BIG = "drops the 'big' byte order, Python's default since 3.11"
EQUIVALENT: dict[str, str] = {  # mutant name -> why it changes nothing observable (read 2026-12-07)
    **{f"sqs.protocol.verify.x_residual__mutmut_{i}": _DTYPE for i in (7, 9, 11, 13)},
    **{f"sqs.protocol.verify.x_rejection_probability__mutmut_{i}": _DTYPE for i in (7, 9, 11, 13)},
    **{f"sqs.protocol.verify.x_verify__mutmut_{i}": _DTYPE + " (callers pass float64 and int64)"
       for i in (4, 6, 11, 13, 16, 18)},
    "sqs.protocol.verify.x_verify__mutmut_8": "reshape(-2): numpy takes it as the one unknown dimension",
    "sqs.protocol.wire.x_draft_work__mutmut_5": "work = for work += from 0.0",
    "sqs.protocol.wire.x_draft_work__mutmut_30": "max(2, .): the bit lengths of K >= 1 and ell >= 1 sum to >= 2",
    "sqs.protocol.wire.xǁBitWriterǁto_bytes__mutmut_8": _BIG,
    "sqs.protocol.wire.xǁBitReaderǁ__init____mutmut_5": _BIG,
    "sqs.protocol.wire.x_encode_uplink__mutmut_18": _BIG,
    "sqs.protocol.wire.x__read_draft__mutmut_16": _BIG,
    **{f"sqs.protocol.wire.xǁUplinkMessageǁq_hat__mutmut_{i}": _DTYPE for i in (3, 5)},
    **{f"sqs.protocol.wire.x__read_draft__mutmut_{i}": "a float32 draft's work estimate reads neither K nor ell"
       for i in (5, 6)},
    "sqs.protocol.wire.x__read_draft__mutmut_39": "the float32 sum of non-negative finite weights is > 0 alike",
    **{f"sqs.protocol.wire.x__read_draft__mutmut_{i}": _DTYPE for i in (55, 57, 107, 109)},
}


def main() -> int:
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    per_file: dict[str, Counter] = defaultdict(Counter)
    survivors = []
    for path in walk_mutatable_files():
        m = SourceFileMutationData(path=path)
        m.load()
        for name, code in m.exit_code_by_key.items():
            status = status_by_exit_code[code]
            if status in ("survived", "no tests") and name in EQUIVALENT:
                status = "equivalent"
            per_file[str(path)][status] += 1
            if status in ("survived", "no tests"):
                survivors.append((str(path), name, status))

    def score(c: Counter) -> str:
        killed = c["killed"] + c["timeout"] + c["caught by type check"]
        tested = killed + c["survived"] + c["no tests"] + c["suspicious"]
        if not tested:
            return "-"
        return f"{100 * killed / tested:5.1f} %  ({killed} of {tested}; {c['equivalent']} equivalent)"

    total, protocol = Counter(), Counter()
    for path in sorted(per_file):
        c = per_file[path]
        total.update(c)
        if "sqs/protocol/" in path:
            protocol.update(c)
        print(f"{path:50s} {score(c)}")
    print(f"\n{'src/sqs/protocol/':50s} {score(protocol)}")
    print(f"{'everything mutated':50s} {score(total)}")
    if "--survivors" in sys.argv:
        print("\nsurvivors (mutmut show NAME for the diff):")
        for _path, name, status in survivors:
            print(f"  {status:9s} {name}")
    return 0


if __name__ == "__main__":
    if not Path("mutants").is_dir():  # run from the repository root, where `make mutate` leaves mutants/
        os.chdir(Path(__file__).resolve().parents[1])
    sys.exit(main())
