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
_WINDOW = ("costs only time: the window grows until it holds the nucleus, and the answer is the full sort's "
           "(test_top_p_sorts_only_the_top_and_matches_a_full_sort)")
_ESTIMATE = ("a float start the exact unit steps absorb: answers exact from any guess, the estimate still within "
             "the units test_the_float_estimate_lands_within_a_few_units_below_the_answer allows")
_SEARCH = "costs only time: a search bound that still holds the answer, or one more step before the exact bisection"
_UNREACHABLE = "unreachable (pragma: no cover): the range check before it rules it out"
_NO_V = "a lattice layout's index bits do not read V"
EQUIVALENT: dict[str, str] = {  # mutant name -> why it changes nothing observable (read 2026-12-07)
    **{f"sqs.protocol.verify.x_residual__mutmut_{i}": _DTYPE for i in (7, 9, 11, 13)},
    **{f"sqs.protocol.verify.x_rejection_probability__mutmut_{i}": _DTYPE for i in (7, 9, 11, 13)},
    **{f"sqs.protocol.verify.x__round__mutmut_{i}": _DTYPE + " (callers pass float64 and int64)"
       for i in (4, 6, 11, 13, 16, 18)},
    "sqs.protocol.verify.x__round__mutmut_8": "reshape(-2): numpy takes it as the one unknown dimension",
    "sqs.protocol.wire.x_draft_work__mutmut_6": "work = for work += from 0.0",
    "sqs.protocol.wire.x_draft_work__mutmut_31": "max(2, .): the bit lengths of K >= 1 and ell >= 1 sum to >= 2",
    "sqs.protocol.wire.xǁBitWriterǁto_bytes__mutmut_8": _BIG,
    "sqs.protocol.wire.xǁBitReaderǁ__init____mutmut_5": _BIG,
    "sqs.protocol.wire.x_encode_uplink__mutmut_29": _BIG,
    "sqs.protocol.wire.x__read_draft__mutmut_47": _BIG,
    **{f"sqs.protocol.wire.xǁUplinkMessageǁq_hat__mutmut_{i}": _DTYPE for i in (3, 5)},
    **{f"sqs.protocol.wire.x__read_draft__mutmut_{i}": "a float32 draft's work estimate reads neither K nor ell"
       for i in (36, 37)},
    "sqs.protocol.wire.x__read_draft__mutmut_4": "a token id's work estimate does not read V",
    "sqs.protocol.wire.x__read_draft__mutmut_70": "the float32 sum of non-negative finite weights is > 0 alike",
    **{f"sqs.protocol.wire.x__read_draft__mutmut_{i}": _DTYPE for i in (86, 88, 138, 140)},
    "sqs.protocol.verify.x_verify_block__mutmut_18": "u <= h parts from u < h only where the draw equals h (2^-53)",
    **{f"sqs.protocol.verify.x_verify_block__mutmut_{i}": "unreachable: after a kept prefix tau < L the residual is "
       "all zeros only where q_hat = p with a = 1, and the next prefix then passes with certainty" for i in (44, 45)},
    **{f"sqs.protocol.verify.x_verify_match__mutmut_{i}": _DTYPE + " (callers pass lists of ints and float64)"
       for i in (4, 6, 11, 13)},
    "sqs.protocol.verify.x_verify_match__mutmut_2": "reshape(None) keeps a 1-D sequence's shape",
    # the layouts without a lattice (read 2026-12-07, stop 43)
    **{f"sqs.protocol.schemes.layout.xǁLayoutǁparent_bits__mutmut_{i}": "only a tree's records carry a parent "
       "field: no other layout asks for it" for i in (2, 6)},
    **{f"sqs.protocol.schemes.layout.xǁLayoutǁtoken_bits_array__mutmut_{i}": _DTYPE + " (frexp of n - 1.0 is float)"
       for i in (30, 33)},
    "sqs.protocol.schemes.layout.xǁLayoutǁtoken_bits_array__mutmut_34": "np.full((), V) broadcasts to the same sum",
    "sqs.protocol.schemes.layout.xǁLayoutǁtoken_bits_array__mutmut_45": "numpy 2 gives unique's inverse in the "
    "input's shape: reshape(None) keeps it",
    **{f"sqs.protocol.schemes.layout.xǁLayoutǁ{m}__mutmut_{i}": "a layout that names the id among all V (token ids, "
       "trees, split, float32) has side bits that read neither K nor ell (nor V but float32's, not on this branch)"
       for m, ids in (("min_token_bits", (4, 5, 9)), ("paper_bits", (7, 8, 9))) for i in ids},
    **{f"sqs.protocol.schemes.vectorized.xǁ_Treeǁranked__mutmut_{i}": "take_along_axis's default axis is the last, "
       "axis 1 of these rows" for i in (17, 32)},
    # split verification and the tree walk (read 2026-12-07, stop 43)
    **{f"sqs.protocol.verify.x_resample__mutmut_{i}": _DTYPE + " (callers pass float64)" for i in (9, 11)},
    **{f"sqs.protocol.verify.x_verify_split__mutmut_{i}": _DTYPE + " (callers pass lists of ints and float64)"
       for i in (4, 6, 12, 14, 19, 21)},
    **{f"sqs.protocol.verify.x_verify_tree__mutmut_{i}": _DTYPE + " (callers pass lists of ints and float64)"
       for i in (4, 6, 12, 14, 19, 21)},
    **{f"sqs.protocol.verify.x_{f}__mutmut_{i}": "reshape(None) keeps a 1-D sequence's shape"
       for f, ids in (("verify_split", (2, 10)), ("verify_tree", (2, 10))) for i in ids},
    **{f"sqs.protocol.verify.x_{f}__mutmut_{i}": "reshape(-2): numpy takes it as the one unknown dimension"
       for f, ids in (("verify_split", (8, 16)), ("verify_tree", (8, 16))) for i in ids},
    "sqs.protocol.verify.x_verify_split__mutmut_44": "u q <= p parts from u q < p only where they are equal (2^-53)",
    **{f"sqs.protocol.verify.x_verify_tree__mutmut_{i}": "zip's strictness: the sizes were checked equal just before"
       for i in (36, 39, 40)},
    "sqs.protocol.verify.x_verify_match__mutmut_8": "reshape(-2): numpy takes it as the one unknown dimension",
    **{f"sqs.protocol.schemes.registry.xǁSchemeSpecǁparse_setting__mutmut_{i}": "any other split of a malformed "
       "item is refused with the same message" for i in (11, 12, 14)},
    **{f"sqs.protocol.schemes.compress.xǁTokenOnlySchemeǁmin_charge__mutmut_{i}": "token ids' least charge reads "
       "no ell" for i in (2, 5)},
    # the rest of protocol/ (read 2026-12-07, second stop)
    **{f"sqs.protocol.{m}__mutmut_{i}": _DTYPE for m, ids in (
        ("sparsify.x__check_probs", (3, 5)), ("sparsify.x_dense", (2, 4)), ("sparsify.x_top_k", (17, 19)),
        ("sparsify.x_dropped_mass", (3, 5)), ("bounds.x_theorem1_terms", (3, 5)), ("budget.x_batch_lengths", (3, 5)),
        ("enumerative.x_subset_rank", (3, 5)), ("enumerative.x_support_index", (3, 5)),
        ("enumerative.x__complement", (3, 5)), ("lattice.x_quantize", (5, 7)), ("probs.x_sample_probs", (3, 5)),
        ("probs.x_tv_distance", (7, 9, 11, 13)),
        ("schemes.layout.xǁLayoutǁtoken_bits_array", (7, 9, 13, 15, 32, 35, 38, 40)),
        ("schemes.layout.xǁLayoutǁcharged_bits_array", (22, 24, 28, 30, 40, 42)),
        ("schemes.compress.x_full_q_hat", (3, 5, 10)), ("schemes.compress.xǁLatticeSchemeǁcompress", (3, 5)),
        ("schemes.compress.xǁConformalSchemeǁcompress", (3, 5)),
        ("schemes.compress.xǁFloat32Schemeǁcompress", (3, 5, 38, 40)),
        ("schemes.compress.xǁTokenOnlySchemeǁcompress", (3, 5))) for i in ids},
    **{f"sqs.protocol.sparsify.x_top_p__mutmut_{i}": _WINDOW for i in (12, 14, 18, 19, 45, 55)},
    "sqs.protocol.sparsify.x_top_p__mutmut_40": "drops side='left', searchsorted's default",
    **{f"sqs.protocol.enumerative.x__estimate_top__mutmut_{i}": _ESTIMATE for i in (9, 18, 19, 26, 47, 55)},
    **{f"sqs.protocol.enumerative.x__exact_top__mutmut_{i}": _SEARCH for i in (8, 23, 59)},
    "sqs.protocol.enumerative.x__exact_top__mutmut_11": "c == lo with C(c, i) > n_left cannot happen: C(i-1, i) = 0",
    **{f"sqs.protocol.enumerative.x__exact_top__mutmut_{i}": "at c <= i the step gives 0 either way (c > 0 there)"
       for i in (14, 21)},
    **{f"sqs.protocol.enumerative.x_composition_unrank__mutmut_{i}": _SEARCH for i in (30, 75, 101, 102)},
    "sqs.protocol.enumerative.x_composition_unrank__mutmut_27": "r = 0 leaves idx = 0: the jump search ends at m = 1 "
                                                               "and writes the 0 that is already there",
    "sqs.protocol.enumerative.x__c__mutmut_15": "min(k, n + k) is k: the same binomial, without the symmetric shortcut",
    "sqs.protocol.enumerative.x_composition_rank__mutmut_10": "'XXiuXX' holds 'i' and 'u'; no dtype kind is 'X'",
    "sqs.protocol.enumerative.x_subset_rank__mutmut_18": "np.diff of one element is empty: never a duplicate",
    "sqs.protocol.enumerative.x_subset_rank__mutmut_30": "C(i, i+1) = 0: adding it changes nothing",
    **{f"sqs.protocol.enumerative.x__log_mpz__mutmut_{i}": "both ways keep the log to double precision"
       for i in (4, 5, 10)},
    **{f"sqs.protocol.enumerative.x_subset_unrank__mutmut_{i}": _SEARCH for i in (32, 34)},
    **{f"sqs.protocol.enumerative.x_subset_unrank__mutmut_{i}": _UNREACHABLE for i in (68, 69, 70)},
    "sqs.protocol.enumerative.x__complement__mutmut_6": "None stored in a bool mask is False",
    **{f"sqs.protocol.lattice.x__select__mutmut_{i}": "unreachable: rounding moves |d| <= K/2 < K entries"
       for i in (1, 2)},
    "sqs.protocol.lattice.x__counts__mutmut_13": "d >= 0 inside 'if d != 0' is d > 0",
    **{f"sqs.protocol.lattice.x__counts__mutmut_{i}": _UNREACHABLE for i in (33, 34, 35)},
    **{f"sqs.protocol.lattice.x_quantize__mutmut_{i}": "costs only time: the top-3-ell window gives the full "
       "vector's counts bit for bit (test_large_vectors_are_quantized_on_their_top_entries_bit_for_bit)"
       for i in (31, 32, 34)},
    "sqs.protocol.schemes.compress.xǁLatticeSchemeǁmin_charge__mutmut_8": "only the fixed-k layout reads K, and a "
                                                                          "fixed-k scheme's fixed_k is its K (>= 1)",
    "sqs.protocol.budget.x_batch_lengths__mutmut_39": "take_along_axis's default axis is -1 (numpy >= 2.3)",
    **{f"sqs.protocol.schemes.layout.xǁLayoutǁ{m}__mutmut_{i}": "numpy 2 gives unique's inverse in the input's shape: "
       "reshape is a no-op" for m, i in (("token_bits_array", 47), ("charged_bits_array", 50))},
    "sqs.protocol.schemes.layout.xǁLayoutǁtoken_bits_array__mutmut_36": "np.full((), V) broadcasts to the same "
                                                                         "values as np.full(k's shape, V)",
    "sqs.protocol.schemes.layout.xǁLayoutǁcharged_bits__mutmut_21": _NO_V,
    "sqs.protocol.schemes.compress.xǁLatticeSchemeǁ_package__mutmut_43": _NO_V,
    "sqs.protocol.schemes.compress.xǁLatticeSchemeǁ_package__mutmut_6": "the dense support gathered: the same values",
    **{f"sqs.protocol.schemes.compress.xǁLatticeSchemeǁ_package__mutmut_{i}": "charged set under the exact "
       "accounting is the wire's bits: charge reads the same" for i in (60, 63, 64)},
    "sqs.protocol.schemes.compress.xǁLatticeSchemeǁ_package__mutmut_69": "None is not 'exact': the paper's branch, "
                                                                         "which is what 'paper' takes",
    **{f"sqs.protocol.schemes.compress.xǁSelectorSchemeǁ__init____mutmut_{i}": "the parameter dataclasses do not "
       "check ell (LatticeScheme's _check_int does)" for i in (2, 3)},
    "sqs.protocol.schemes.compress.xǁFloat32Schemeǁcompress__mutmut_9": "a float32 sum of non-negative floats is > 0 "
                                                                        "exactly when the float64 one is (inf > 0)",
    **{f"sqs.protocol.schemes.vectorized.xǁ_Thresholdǁsizes__mutmut_{i}": "the sweep sets scheme_state, resets and "
       "weights on every cell and chunk: getattr's default is never read" for i in (31, 34, 37, 38, 46, 49, 55, 58)},
    "sqs.protocol.schemes.vectorized.xǁ_Thresholdǁsizes__mutmut_63": "without weights, a column of ones per cell is "
                                                                      "the broadcast column",
    **{f"sqs.protocol.schemes.vectorized.xǁ_TopKǁunsafe__mutmut_{i}": "_boundary_tie itself flags only k < V"
       for i in (2, 10)},
    **{f"sqs.protocol.schemes.vectorized.xǁ_Thresholdǁexact_ids__mutmut_{i}": "at k = 1 the ids at the top value are "
       "the argmax alone, or tied maxima the fallback resolves" for i in (3, 8)},
    "sqs.protocol.schemes.registry.x_register__mutmut_5": "a build without 'shared' reads falsy either way",
    "sqs.protocol.schemes.vectorized.xǁ_Float32ǁrejection__mutmut_2": _DTYPE,
    "sqs.protocol.schemes.vectorized.xǁ_Tokensǁrejection__mutmut_9": "einsum takes upper-case labels alike",
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
