"""The protocol's small contracts, each pinned where mutation testing (make mutate) found it unchecked:
the receiver's limits and their errors, the budget rule's cap, the registry's labels, settings and casts,
Theorem 2's bounds as formulas, the paper accounting over arrays, float32 underflow."""

import math
from dataclasses import fields

import numpy as np
import pytest

import sqs
from sqs import wire
from sqs.protocol.bounds import theorem2_bound_paper, theorem2_bound_tight
from sqs.protocol.budget import BitBudget, batch_length, batch_lengths
from sqs.protocol.schemes import SCHEMES, get
from sqs.protocol.schemes.registry import cast, column_type, names


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"max_drafts": 0}, "max_drafts must be >= 1, got 0"),
        ({"max_ell": 0}, "max_ell must be >= 1, got 0"),
        ({"vocab_size": 0}, "vocab_size must be >= 1, got 0"),
        ({"max_support": 0}, "max_support must be >= 1, got 0"),
        ({"max_work": 0.0}, "max_work must be > 0, got 0.0"),
        ({"max_work": float("nan")}, "max_work must be > 0, got nan"),
    ],
)
def test_decode_limits_refuse_nonsense_by_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        wire.DecodeLimits(**kwargs)


def test_decode_limits_accept_their_smallest_values():
    lim = wire.DecodeLimits(vocab_size=1, max_drafts=1, max_ell=1, max_support=1, max_work=1e-9)
    assert (lim.vocab_size, lim.max_drafts, lim.max_ell, lim.max_support) == (1, 1, 1, 1)
    assert wire.DecodeLimits().max_drafts == 64 and wire.DecodeLimits().max_ell == 4096
    assert wire.NO_LIMITS.max_drafts == wire.MAX_DRAFTS == 0xFFFF and wire.NO_LIMITS.max_work == float("inf")


def test_draft_count_reads_the_header():
    scheme = sqs.make_scheme("k-sqs", k=3, ell=6)
    g = np.random.default_rng(0)
    comps = [scheme.compress(g.dirichlet(np.ones(10))) for _ in range(5)]
    msg = wire.encode_uplink(scheme.code, 10, 6, 3, [(c, c.sample(g)) for c in comps])
    assert wire.draft_count(msg) == 5


def test_the_budget_rule_stops_at_the_cap_and_at_the_first_prefix_that_does_not_fit():
    assert batch_length([10, 10, 10, 10], 100, 3) == 3
    assert batch_length([10, 50, 45, 1], 100, 10) == 2  # 10 + 50 + 45 > 100: the cheap fourth is not reached
    assert batch_length([10, 90], 100, 10) == 2  # exactly B fits
    assert batch_length([], 100, 10) == 0
    b = BitBudget(100, 2)
    assert b.admit(60) and not b.fits(41) and b.fits(40) and b.admit(40) and b.full and not b.fits(0)
    assert (b.used_bits, b.num_drafts) == (100, 2)
    for bad, match in (((-1, 3), "budget_bits must be >= 0"), ((10, -1), "max_draft_len"), ((10, 65536), "65535")):
        with pytest.raises(ValueError, match=match):
            BitBudget(*bad)
    length, used = batch_lengths(np.array([[10.0, 50, 45, 1], [10, 10, 10, 10]]), 100, np.array([10, 3]))
    assert length.tolist() == [2, 3] and used.tolist() == [60.0, 30.0]


def test_theorem2_bounds_are_their_formulas():
    assert theorem2_bound_paper(0.01, 0.001, 0.0005, 1000) == pytest.approx(0.0005 + (0.01 + 1 + 0.001 * 0.0005) / 1.0)
    assert theorem2_bound_paper(-0.02, 0.5, 0.1, 10) == pytest.approx(0.1 + (0.02 + 1 + 0.05) / 5.0)
    # beta_1 above the floor -eta (1 - alpha): the drop is beta_1 + eta (1 - alpha)
    assert theorem2_bound_tight(0.01, 0.1, 0.05, 100) == pytest.approx(0.05 + (0.01 + 0.1 * 0.95) / 10.0)
    assert theorem2_bound_tight(-1.0, 0.1, 0.05, 100) == pytest.approx(0.05)  # beta_1 is the lowest: no drop


def test_cell_labels_settings_and_casts():
    assert get("k-sqs").cell_label({"K": 16}) == "k-sqs K=16"
    assert get("c-sqs").cell_label({"beta0": 0.001, "eta": 0.0}) == "c-sqs β₁=0.001 η=0"
    assert get("top-p").cell_label({"top_p": 0.9}) == "top-p top_p=0.9"
    assert get("ar").cell_label({}) == "ar"
    for spec in SCHEMES.values():
        values = {c: column_type(c)(f.default) for c, f in ((f.metadata.get("column"), f) for f in spec.param_fields())
                  if c}  # fmt: skip
        assert spec.parse_setting(spec.setting(values)) == values
    assert get("ar").setting({}) == "default" and get("ar").parse_setting("default") == {}
    assert get("c-sqs").parse_setting("beta0=0.01+eta=0.001") == {"beta0": 0.01, "eta": 0.001}
    assert isinstance(get("k-sqs").parse_setting("K=16")["K"], int)
    for text in ("K=16+eta=0.1", "eta=0.1", "", "default"):
        with pytest.raises(ValueError, match="expected the columns K"):
            get("k-sqs").parse_setting(text)
    k, beta, acc = (next(f for f in fields(get(s).params) if f.name == n) for s, n in
                    (("k-sqs", "k"), ("c-sqs", "beta"), ("c-sqs", "accounting")))  # fmt: skip
    assert cast(k, "16") == 16 and isinstance(cast(k, 16.0), int)
    assert cast(beta, "0.5") == 0.5 and isinstance(cast(beta, 1), float)
    assert cast(acc, "paper") == "paper"
    assert "dense" in names() and "dense" not in names(aliases=False) and get("dense").name == "qs"


def test_params_from_reads_columns_then_shared_values_then_defaults():
    spec = get("c-sqs")
    got = spec.params_from({"beta0": 0.02}, {"ell": 50, "eta": 0.5})
    assert got == {"ell": 50, "beta": 0.02, "alpha": 0.0005, "eta": 0.5, "accounting": "exact"}
    assert spec.params_from({}) == spec.defaults()


def test_the_paper_accounting_over_arrays_is_the_scalar_rule():
    lay = get("c-sqs").layout
    k, nnz = np.array([1, 5, 40, 300]), np.array([1, 3, 17, 300])
    for accounting in ("paper", "exact"):
        arr = lay.charged_bits_array(151_936, k, 100, nnz, accounting)
        scalar = [lay.charged_bits(151_936, int(a), 100, int(b), accounting) for a, b in zip(k, nnz, strict=True)]
        assert arr.tolist() == scalar
    assert lay.charged_bits_array(151_936, k, 100, nnz).tolist() == lay.token_bits_array(151_936, k, 100, nnz).tolist()


@pytest.mark.parametrize("name", [n for n, s in SCHEMES.items() if s.speculative])
def test_a_schemes_params_rebuild_it(name):
    """``scheme.params`` is what the scheme was built with, every parameter of its declaration by name."""
    spec = get(name)
    built = {"k-sqs": {"k": 7, "ell": 33}, "c-sqs": {"beta": 0.02, "ell": 40, "alpha": 0.01, "eta": 0.3,
             "accounting": "paper"}, "top-p": {"top_p": 0.7, "ell": 21}, "min-p": {"min_p": 0.2, "ell": 22},
             "qs": {"ell": 17}, "sd": {}, "tokens": {}, "split": {}, "tree": {"branch": 5}}[spec.name]  # fmt: skip
    scheme = spec.make(**built)
    assert scheme.params() == built and set(built) == {f.name for f in spec.param_fields()}
    assert spec.make(**scheme.params()).params() == built


def test_float32_sd_sends_every_probability_as_float32():
    q = np.array([0.5, 0.25, 0.125, 0.125, 0.0])
    c = sqs.make_scheme("sd").compress(q)
    assert (c.vocab_size, c.k, c.counts, c.ell, c.support_bits, c.size_bits) == (5, 5, None, 0, 0, 0)
    assert (c.lattice_bits, c.token_bits, c.bits, c.dropped_mass, c.paper_bits) == (160, 3, 163, 0.0, 160.0)
    assert c.support.tolist() == [0, 1, 2, 3, 4] and c.weights.dtype == np.float32
    np.testing.assert_array_equal(c.q_hat, q)
    assert sqs.make_scheme("sd").min_charge(151_936) == 0 and sqs.make_scheme("sd").fixed_k == 0


def test_token_only_drafts_send_the_id_alone_and_draw_from_q():
    q = np.array([0.5, 0.25, 0.125, 0.125, 0.0])
    s = sqs.make_scheme("tokens")
    c = s.compress(q)
    assert (c.vocab_size, c.k, c.counts, c.ell, c.support_bits, c.size_bits, c.lattice_bits) == (5, 0, None, 0, 0, 0, 0)
    assert (c.token_bits, c.bits, c.charge, c.dropped_mass, c.paper_bits) == (3, 3, 3, 0.0, 3.0)
    np.testing.assert_array_equal(c.q_hat, q)  # the law the draft is drawn from (the edge's own, never sent)
    assert s.min_charge(151_936) == 18 and (s.ell, s.fixed_k, s.params()) == (0, 0, {})
    assert not get("tokens").lattice and get("tokens").budget and get("tokens").code == 6
    with pytest.raises(ValueError, match=r"^cannot draft from a distribution without positive mass$"):
        s.compress(np.zeros(3))


@pytest.mark.parametrize("name,param", [("top-p", "top_p"), ("min-p", "min_p")])
def test_fraction_parameters_are_checked_by_name(name, param):
    for bad in (0.0, 1.5, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match=rf"{param} must be a number in \(0, 1\], got"):
            sqs.make_scheme(name, **{param: bad, "ell": 10})
    assert sqs.make_scheme(name, **{param: 1.0, "ell": 10}).params()[param] == 1.0


@pytest.fixture
def scratch_registry():
    """The registry as it was, restored after a test that registers schemes of its own."""
    from sqs.protocol.schemes import registry

    saved = dict(registry.SCHEMES), dict(registry._ALIASES), dict(registry._BY_CODE)
    yield registry
    for live, old in zip((registry.SCHEMES, registry._ALIASES, registry._BY_CODE), saved, strict=True):
        live.clear()
        live.update(old)


def test_register_declares_a_scheme_once_and_refuses_a_clash(scratch_registry):
    from sqs.protocol.schemes.compress import SelectorScheme

    reg = scratch_registry
    base = get("min-p")
    spec = reg.register(reg.SchemeSpec("my-rule", "My rule", {"color": "red", "marker": "o"}, base.params,
                                       SelectorScheme, code=9, layout=base.layout, aliases=("mine",),
                                       select=base.select))  # fmt: skip
    assert reg.get("mine") is spec and reg.by_code(9) is spec and "my-rule" in reg.names() and 9 in reg.wire_codes()
    assert spec.build is not SelectorScheme and issubclass(spec.build, SelectorScheme)  # its own subclass
    assert spec.build.spec is spec and get("min-p").build.spec is get("min-p")  # the shared class left alone
    scheme = reg.make_scheme("mine", min_p=0.5, ell=8)
    assert scheme.name == "my-rule" and scheme.code == 9 and scheme.compress(np.array([0.6, 0.3, 0.1])).k == 2
    for clash, match in ((dict(name="qs"), "scheme name 'qs' is taken by 'qs'"),
                         (dict(name="x", aliases=("dense",)), "scheme name 'dense' is taken by 'qs'"),
                         (dict(name="y", code=1), "wire code 1 of 'y' is taken"),
                         (dict(name="z", code=16), "wire code 16 of 'z' is taken or outside 0..15")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            reg.register(reg.SchemeSpec(clash.pop("name"), "x", {}, layout=base.layout, **clash))
    assert "x" not in reg.SCHEMES and "y" not in reg.SCHEMES  # a refused entry leaves nothing behind


def test_the_settings_class_holds_every_parameter_with_its_default_and_help():
    from sqs.protocol.schemes import registry

    cls = registry._settings_class()
    got = {f.name: f for f in fields(cls)}
    for f in registry.all_param_fields():
        assert got[f.name].default == f.default and got[f.name].metadata["help"] == f.metadata["help"]
    assert cls.__name__ == "SchemeSettings" and cls.__module__ == registry.__name__
    assert cls.__doc__.startswith("All schemes' parameters in one place: ")  # what help(SchemeSettings) shows
    with pytest.raises(AttributeError):
        cls().k = 3  # frozen


def test_the_parameter_dataclasses_check_their_own_fractions():
    from sqs.protocol.schemes.registry import MinPParams, TopPParams

    for cls, name in ((TopPParams, "top_p"), (MinPParams, "min_p")):
        with pytest.raises(ValueError, match=rf"^{name} must be a number in \(0, 1\], got 1.5$"):
            cls(**{name: 1.5})
        assert getattr(cls(**{name: 1.0}), name) == 1.0


def test_sparsifier_errors_name_the_bad_value_exactly():
    from sqs.protocol import sparsify

    q = np.array([0.5, 0.3, 0.2])
    for p in (0.0, 1.0 + 1e-9, -0.5):
        with pytest.raises(ValueError, match=rf"^top_p must be in \(0, 1\], got {p!r}$"):
            sparsify.top_p(q, p)
    assert sparsify.top_p(q, 1.0).tolist() == [0, 1, 2] and sparsify.top_p(q, 0.5).tolist() == [0]
    assert sparsify.dense(q).tolist() == [0, 1, 2] and sparsify.dense(q).dtype == np.int64
    with pytest.raises(ValueError, match=r"^q must be a non-empty 1-D probability vector, got shape \(0,\)$"):
        sparsify.dense(np.array([]))
    with pytest.raises(ValueError, match=r"^distribution underflows float32$"):
        sqs.make_scheme("sd").compress(np.array([1e-60, 1e-60]))


def test_softmax_is_per_row_overflow_safe_and_refuses_bad_temperatures():
    from sqs.protocol.probs import softmax_temperature, tv_distance

    z = np.array([[0.0, -1.0], [2000.0, 1999.0]])  # rows far apart: each must be shifted by its own max
    want = np.array([1.0, np.exp(-0.5)]) / (1.0 + np.exp(-0.5))
    for row in softmax_temperature(z, 2.0):
        np.testing.assert_allclose(row, want, rtol=1e-14)
    np.testing.assert_allclose(softmax_temperature(np.array([0.0, np.log(3.0)]), 0.5), [0.1, 0.9], rtol=1e-14)
    for bad in (float("nan"), float("inf"), -0.5):
        with pytest.raises(ValueError, match=rf"^temperature must be a finite number >= 0, got {bad!r}$"):
            softmax_temperature(z, bad)
    np.testing.assert_allclose(tv_distance(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([[0.0, 1.0], [0.5, 0.5]])),
                               [1.0, 0.0])


def test_sample_probs_never_returns_a_zero_entry_even_at_the_ends_of_u():
    from sqs.protocol.probs import sample_probs
    from test_wire_contracts import _Uniforms

    assert sample_probs(np.array([0.0, 1.0]), _Uniforms(0.0)) == 1  # u = 0 on a leading zero entry
    assert sample_probs(np.array([0.5, 0.0, 0.5]), _Uniforms(0.5)) == 2  # on a boundary: the next positive entry
    # u * total rounded up to the total (u = 1 stands for it): the last positive entry, not past the end
    assert sample_probs(np.array([0.2, 0.3, 0.5, 0.0]), _Uniforms(1.0)) == 2
    for bad in ([0.0, 0.0], [1.0, np.inf], [np.nan, 1.0]):
        with pytest.raises(ValueError, match=r"^cannot sample from a vector without positive finite mass$"):
            sample_probs(np.array(bad), np.random.default_rng(0))


def test_lattice_errors_name_the_bad_values_exactly():
    from sqs import lattice

    with pytest.raises(ValueError, match=r"^probs must be a non-empty 1-D vector, got shape \(1, 2\)$"):
        lattice.quantize(np.array([[0.5, 0.5]]), 4)
    with pytest.raises(ValueError, match=r"^probs must be finite and non-negative$"):
        lattice.quantize(np.array([0.5, -0.1]), 4)
    with pytest.raises(ValueError, match=r"^probs must have positive mass$"):
        lattice.quantize(np.array([0.0, 0.0]), 4)
    with pytest.raises(ValueError, match=r"^k \(support size\) must be >= 1, got 0$"):
        lattice.unrank(0, 0, 4)


def test_dropped_mass_is_a_fraction_of_an_unnormalized_total():
    from sqs.protocol.sparsify import dropped_mass

    assert dropped_mass(np.array([2.0, 1.0, 1.0]), np.array([0])) == 0.5
    assert dropped_mass(np.array([2.0, 1.0, 1.0]), np.arange(3)) == 0.0


def test_theorem1_terms_are_their_formulas():
    from sqs.protocol.bounds import theorem1_terms

    q, q_hat, p = np.array([0.5, 0.3, 0.2]), np.array([0.6, 0.4, 0.0]), np.array([0.2, 0.3, 0.5])
    t = theorem1_terms(q, q_hat, p, np.array([0, 1]), 10)
    assert (t.tv_slm_llm, t.dropped_mass, t.lattice_term, t.tv_qhat_llm) == pytest.approx((0.3, 0.2, 0.05, 0.5))
    assert t.bound == pytest.approx(0.55)
    assert theorem1_terms(q, q_hat, p, np.array([0, 1]), 1).lattice_term == 0.5
    assert theorem1_terms(q, q, p, np.arange(3), 0).lattice_term == 0.0  # no lattice (float32 SD)


def test_the_budget_rule_at_its_edges_and_over_any_batch_shape():
    assert BitBudget(0, 0).budget_bits == 0 and BitBudget(0, 0xFFFF).max_draft_len == 0xFFFF
    assert batch_length([40, 60], 100, 5) == 2  # the prefix that reaches B exactly fits
    charges = np.array([[[10.0, 50, 45, 1], [10, 10, 10, 10]], [[100, 0, 0, 0], [101, 0, 0, 0]]])
    cap = np.array([[10, 3], [10, 10]])
    length, used = batch_lengths(charges, 100, cap)
    assert length.tolist() == [[2, 3], [4, 0]] and used.tolist() == [[60.0, 30.0], [100.0, 0.0]]
    for w in np.ndindex(cap.shape):  # each window is the scalar rule
        assert length[w] == batch_length(charges[w].tolist(), 100, int(cap[w]))
    one, bits = batch_lengths(np.array([30.0, 30, 30, 30]), 100, 4)
    assert (int(one), float(bits)) == (3, 90.0)


def test_the_conformal_controller_refuses_alpha_outside_the_open_interval_and_chains_batches():
    from sqs.protocol.conformal import ConformalThreshold

    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match=rf"^alpha \(target dropped mass\) must be in \(0, 1\), got {bad!r}$"):
            ConformalThreshold(0.01, bad, 0.1)
    c = ConformalThreshold(0.5, 0.25, 1.0)
    c.update(0.5), c.update(0.0)
    assert c.end_batch(1) == 0.25
    c.update(0.75)  # after end_batch the controller is at its checkpoint: no begin_batch needed
    assert c.end_batch(1) == -0.25 and c.end_batch(0) == -0.25 and c.committed == [0.5, 0.25, -0.25]


def test_every_layout_prices_a_token_by_its_own_formula():
    from sqs.protocol.enumerative import bits_for
    from sqs.protocol.schemes import layout as L

    v, ell = 1000, 12
    lat = L.lattice_bits
    # float32: 32 V bits of probabilities and the token's id among all V, whatever K, ell or nnz
    assert L.FLOAT32.distribution_bits(v, 7, ell) == 32 * v and L.FLOAT32.paper_bits(v, 7, ell) == 32.0 * v
    assert L.FLOAT32.token_bits(v, v, 0, 3) == 32 * v + bits_for(v)
    k, nnz = np.array([[v, v], [v, v]]), np.array([[3, 1], [v, 2]])
    np.testing.assert_array_equal(L.FLOAT32.token_bits_array(v, k, 0, nnz), np.full((2, 2), 32 * v + bits_for(v)))
    # dense: the lattice over all V; no subset, no size; the paper's count is the log of the points alone
    assert L.DENSE.token_bits(v, v, ell, 5) == lat(v, ell) + bits_for(5)
    assert L.DENSE.paper_bits(v, v, ell) == pytest.approx(math.log2(math.comb(ell + v - 1, v - 1)))
    assert L.DENSE.min_token_bits(v, ell) == lat(v, ell)
    # fixed-k: K from the header (the default K is 1); variable-k: K rides along, the least charge at K = 1
    assert L.FIXED_K.min_token_bits(v, ell) == L.FIXED_K.side_bits(v, 1, ell)
    assert L.FIXED_K.min_token_bits(v, ell, k=8) == L.subset_bits(v, 8) + lat(8, ell)
    assert L.VARIABLE_K.min_token_bits(v, ell, k=8) == L.VARIABLE_K.side_bits(v, 1, ell) == bits_for(v) + bits_for(v)
    # the paper's accounting: 2 ceil(log2 V) + lattice index + token position; the default is the wire's
    assert L.VARIABLE_K.charged_bits(v, 8, ell, 5) == L.VARIABLE_K.token_bits(v, 8, ell, 5)
    assert L.VARIABLE_K.charged_bits(v, 8, ell, 5, "paper") == 2 * bits_for(v) + lat(8, ell) + bits_for(5)
    assert L.VARIABLE_K.min_token_bits(v, ell) == L.VARIABLE_K.charged_bits(v, 1, ell, 1, "paper")  # both agree
    # token ids alone: the id among all V, nothing else, whatever K, ell or nnz
    assert L.TOKENS.distribution_bits(v, 7, ell) == 0 and L.TOKENS.side_bits(v, 7, ell) == 0
    assert L.TOKENS.token_bits(v, 0, 0, 3) == L.TOKENS.min_token_bits(v, ell) == bits_for(v)
    assert L.TOKENS.paper_bits(v, 0, 0) == float(bits_for(v)) and L.TOKENS.charged_bits(v, 0, 0, 3) == bits_for(v)
    np.testing.assert_array_equal(L.TOKENS.token_bits_array(v, np.zeros((2, 2), int), 0, nnz), np.full((2, 2), 10))


def test_runtime_schemes_check_their_integers_by_name_at_their_edges():
    for bad in (True, 2.0, 0, "3"):
        with pytest.raises(ValueError, match=rf"^k must be an integer >= 1, got {bad!r}$"):
            sqs.make_scheme("k-sqs", k=bad, ell=4)
    for bad in (0, 65536):
        with pytest.raises(ValueError, match=rf"^ell must be an integer in \[1, 65535\], got {bad}$"):
            sqs.make_scheme("qs", ell=bad)
    assert sqs.make_scheme("qs", ell=65535).ell == 65535
    for key, bad in (("beta", float("nan")), ("alpha", float("inf")), ("eta", True), ("beta", "0.1")):
        with pytest.raises(ValueError, match=rf"^{key} must be a finite number, got {bad!r}$"):
            sqs.make_scheme("c-sqs", **{"beta": 0.01, "ell": 8, key: bad})


def test_c_sqs_built_without_alpha_and_eta_takes_the_declared_ones():
    declared = {f.name: f.default for f in get("c-sqs").param_fields()}
    built = get("c-sqs").build(beta=0.01, ell=8).params()
    for name in ("alpha", "eta", "accounting"):
        assert built[name] == declared[name], name


def test_cast_reads_real_annotations_too():
    """A user's parameter dataclass written without ``from __future__ import annotations`` has real types."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Mine:
        n: int = 1
        x: float = 0.5
        s: str = "a"

    got = [cast(f, v) for f, v in zip(fields(Mine), ("3", "0.25", 7), strict=True)]
    assert got == [3, 0.25, "7"] and [type(g) for g in got] == [int, float, str]


def test_runtime_defaults_are_the_registry_declarations():
    """A runtime class's own defaults (used when make() is given fewer parameters) are its entry's."""
    import inspect

    for spec in SCHEMES.values():
        if spec.build is None:
            continue
        declared = {f.name: f.default for f in spec.param_fields()}
        for name, par in inspect.signature(spec.build.__init__).parameters.items():
            if par.default is not inspect.Parameter.empty:
                assert par.default == declared[name], (spec.name, name)


def test_compressed_drafts_refuse_a_token_they_cannot_emit_and_float32_renormalizes():
    comp = sqs.make_scheme("k-sqs", k=2, ell=4).compress(np.array([0.1, 0.6, 0.3]))
    assert comp.nonzero.tolist() == [1, 2] and comp.token_position(2) == 1
    for token in (0, 3):  # below and past every nonzero id
        with pytest.raises(ValueError, match=rf"^token {token} has zero probability under q_hat$"):
            comp.token_position(token)
    sd = sqs.make_scheme("sd").compress(np.array([2.0, 1.0, 1.0]))
    np.testing.assert_array_equal(sd.q_hat, [0.5, 0.25, 0.25])
    c = sqs.make_scheme("c-sqs", beta=0.2, ell=8)
    np.testing.assert_array_equal(c.select(np.array([0.5, 0.1, 0.4])), [0, 2])


def test_k_sqs_stops_at_the_least_charge_of_its_header_k():
    from sqs.protocol.schemes import layout as L

    assert sqs.make_scheme("k-sqs", k=8, ell=8).min_charge(5000) == L.FIXED_K.side_bits(5000, 8, 8) > 0


def test_either_accounting_c_sqs_stops_at_the_least_charge_of_its_budget_rule():
    for acc in ("exact", "paper"):
        c = sqs.make_scheme("c-sqs", beta=0.01, ell=8, accounting=acc)
        one_hot = c.compress(np.eye(5000)[7])
        assert c.min_charge(5000) == one_hot.charge == 26  # 13 + 13 bits for the subset (or 2 ceil log2 V) and K


def test_a_parameter_declaration_carries_its_default_and_metadata():
    from sqs.protocol.schemes.registry import _p

    f = _p(3, "how many", column="N", choices=(1, 3), sweep=(1, 3))
    assert f.default == 3
    assert dict(f.metadata) == {"help": "how many", "column": "N", "choices": (1, 3), "sweep": (1, 3)}


def test_settings_parse_back_or_name_the_expected_columns():
    assert get("c-sqs").parse_setting("beta0=0.01+eta=0") == {"beta0": 0.01, "eta": 0.0}
    assert get("k-sqs").parse_setting("K=16") == {"K": 16}
    for scheme, text, cols in (("c-sqs", "beta0=0.01", "beta0, eta"), ("k-sqs", "K=1=2", "K"), ("k-sqs", "K=x", "K"),
                               ("k-sqs", "", "K"), ("qs", "K=4", "none"), ("qs", "", "none")):  # fmt: skip
        with pytest.raises(ValueError, match=rf"^setting {text!r} of {scheme}: expected the columns {cols}$"):
            get(scheme).parse_setting(text)
    swept = "K, beta0, eta, top_p, min_p, branch"
    with pytest.raises(ValueError, match=rf"^no scheme sweeps a column 'Q'; swept columns: {swept}$"):
        column_type("Q")
    with pytest.raises(ValueError, match=r"^unknown scheme 'nope'; valid: ar, sd, qs, dense, k-sqs, c-sqs, top-p, "
                                         r"min-p, tokens, split, dssd, tree, specexec$"):  # fmt: skip
        get("nope")


def test_register_subclasses_only_a_shared_runtime_and_takes_codes_0_to_15(scratch_registry):
    from sqs.protocol.schemes.compress import TopKScheme

    reg = scratch_registry

    class Plain(TopKScheme):
        pass

    base = get("k-sqs")
    spec = reg.register(reg.SchemeSpec("plain", "Plain", {}, base.params, Plain, code=15, layout=base.layout))
    assert spec.build is Plain and Plain.spec is spec and reg.by_code(15) is spec
    reg._BY_CODE.pop(0)
    assert reg.register(reg.SchemeSpec("zero", "Zero", {}, code=0, layout=base.layout)).code == 0
    with pytest.raises(ValueError, match=r"^wire code -1 of 'neg' is taken or outside 0..15$"):
        reg.register(reg.SchemeSpec("neg", "x", {}, code=-1, layout=base.layout))


def test_making_a_scheme_names_what_is_wrong_exactly():
    for call, match in (
        (lambda: sqs.make_scheme("ar"), r"^unknown scheme 'ar'; valid schemes: sd, qs, dense, k-sqs, c-sqs, top-p, "
                                        r"min-p, tokens, split, dssd, tree, specexec$"),
        (lambda: get("ar").make(), r"^scheme 'ar' sends nothing to compress$"),
        (lambda: sqs.make_scheme("k-sqs", kk=3), r"^scheme 'k-sqs' takes parameters \['ell', 'k'\], got unknown "
                                                 r"\['kk'\]$"),
        (lambda: sqs.make_scheme("sd", ell=3), r"^scheme 'sd' takes parameters none, got unknown \['ell'\]$"),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            call()
