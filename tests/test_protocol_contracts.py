"""The protocol's small contracts, each pinned where mutation testing (make mutate) found it unchecked:
the receiver's limits and their errors, the budget rule's cap, the registry's labels, settings and casts,
Theorem 2's bounds as formulas, the paper accounting over arrays, float32 underflow."""

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
             "qs": {"ell": 17}, "sd": {}}[spec.name]  # fmt: skip
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
    assert cls.__name__ == "SchemeSettings" and cls.__module__ == registry.__name__ and cls.__doc__
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
