"""Speculative-decoding verification against the *decoded* q_hat: token by token (Leviathan et al., 2023), or
the block as a whole (Sun et al., arXiv 2403.10444). Both read the same q_hat and p, so a rule costs no bits.
Drafts sent without a q_hat: token ids alone by exact match; the id and q_hat(x) split between the two sides
(DSSD): the cloud decides, the edge draws the token after a rejection from its own q_hat."""

from __future__ import annotations

import numpy as np

from sqs.protocol.probs import sample_probs


def residual(p: np.ndarray, q_hat: np.ndarray) -> np.ndarray:
    """Unnormalized max(p - q_hat, 0); all zeros only when p == q_hat (up to rounding)."""
    return np.maximum(np.asarray(p, dtype=np.float64) - np.asarray(q_hat, dtype=np.float64), 0.0)


def resample(p: np.ndarray, q_hat: np.ndarray, rng: np.random.Generator, scale: float = 1.0) -> int:
    """The token after a rejection: from max(scale p - q_hat, 0) normalized, or from p itself where that is all
    zeros (p == q_hat up to rounding, where a rejection has probability zero). The cloud draws it here, or for
    split verification the edge, with the q_hat it drew the draft from and the p that came down."""
    res = residual(scale * np.asarray(p, dtype=np.float64), q_hat)
    return sample_probs(res if res.sum() > 0 else p, rng)


def _round(draft_tokens, q_hat: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tokens = np.asarray(draft_tokens, dtype=np.int64).reshape(-1)
    q_hat = np.asarray(q_hat, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    n_draft = tokens.size
    if q_hat.ndim != 2 or p.ndim != 2 or q_hat.shape[0] != n_draft or p.shape[0] != n_draft + 1:
        raise ValueError(f"need q_hat (L, V) and p (L+1, V) for L={n_draft} drafts, got {q_hat.shape} and {p.shape}")
    if q_hat.shape[1] != p.shape[1]:
        raise ValueError(f"vocabulary mismatch: q_hat has {q_hat.shape[1]} columns, p has {p.shape[1]}")
    return tokens, q_hat, p


def _check_token(x: int, vocab_size: int) -> None:
    if not 0 <= x < vocab_size:
        raise ValueError(f"draft token {x} outside the vocabulary [0, {vocab_size})")


def _draft_prob(q_hat: np.ndarray, n: int, x: int) -> float:
    _check_token(x, q_hat.shape[1])
    qx = q_hat[n, x]
    if not qx > 0:
        raise ValueError(f"draft token {x} at position {n} has q_hat = 0: it cannot have been sampled")
    return float(qx)


def verify(draft_tokens, q_hat: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Accept draft n with probability min(1, p(x)/q_hat(x)); resample the first rejection.

    ``q_hat`` is (L, V), ``p`` is (L+1, V): row L of ``p`` gives the bonus token when every draft is
    accepted. One uniform is drawn per examined draft, whether or not the ratio is >= 1, so the random
    stream does not depend on the values. Returns (number accepted, next token).
    """
    tokens, q_hat, p = _round(draft_tokens, q_hat, p)
    for n in range(tokens.size):
        x = int(tokens[n])
        if rng.random() * _draft_prob(q_hat, n, x) < p[n, x]:  # u < p/q without dividing
            continue
        return n, resample(p[n], q_hat[n], rng)
    return tokens.size, sample_probs(p[tokens.size], rng)


def verify_split(draft_tokens, q_values, p: np.ndarray, rng: np.random.Generator) -> tuple[int, int | None]:
    """Split verification (DSSD, arXiv 2507.12000): the cloud holds only each draft's q_hat(x), so it accepts
    with min(1, p(x)/q_hat(x)) as :func:`verify` does (one uniform per examined draft) and, at the first
    rejection, returns (n, None): the edge draws the next token with :func:`resample` from the p sent down and
    the q_hat it sampled from, which gives :func:`verify`'s law. All accepted: (L, a draw from p_{L+1})."""
    tokens = np.asarray(draft_tokens, dtype=np.int64).reshape(-1)
    q_values = np.asarray(q_values, dtype=np.float64).reshape(-1)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != tokens.size + 1 or q_values.size != tokens.size:
        raise ValueError(f"need p (L+1, V) and L q values for L={tokens.size} drafts, got {p.shape}, {q_values.size}")
    for n, x in enumerate(tokens.tolist()):
        _check_token(x, p.shape[1])
        if not q_values[n] > 0:
            raise ValueError(f"draft token {x} at position {n} has q_hat = {q_values[n]}: it cannot have been sampled")
        if not rng.random() * q_values[n] < p[n, x]:
            return n, None
    return tokens.size, sample_probs(p[tokens.size], rng)


def verify_match(draft_tokens, p: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Exact-match verification of token ids sent without a distribution: the cloud draws its own token from p
    at each position and keeps the draft while they agree; the first disagreement is the next token. Every
    emitted token is the cloud's own draw from p, so the text follows p whatever drafted it; a draft x survives
    with probability p(x) (min(1, p/q_hat) for a q_hat scheme)."""
    tokens = np.asarray(draft_tokens, dtype=np.int64).reshape(-1)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != tokens.size + 1:
        raise ValueError(f"need p (L+1, V) for L={tokens.size} drafts, got {p.shape}")
    for n, x in enumerate(tokens.tolist()):
        _check_token(x, p.shape[1])
        y = sample_probs(p[n], rng)
        if y != x:
            return n, y
    return tokens.size, sample_probs(p[tokens.size], rng)


def tree_path(parents, node: int) -> list[int]:
    """The nodes from the root's child down to ``node`` (-1, the root itself: none), by ``parents``."""
    path = []
    while node >= 0:
        path.append(node)
        node = int(parents[node])
    return path[::-1]


def verify_tree(tokens, parents, p: np.ndarray, rng: np.random.Generator) -> tuple[list[int], int]:
    """Walk a token tree by the cloud's own draws (SpecExec's exact walk for a deterministic tree): from the root,
    draw y from p at the current node; if a child of it is y, move there and draw again, else y is the next
    token. ``parents[i]`` is node i's parent (-1: the root); ``p`` is (n + 1, V): row 0 after the context, row
    i + 1 after node i. Every emitted token is a draw from p after the text before it, so the text follows p
    whatever the tree. Returns (the accepted nodes, root to deepest, and the next token)."""
    tokens = np.asarray(tokens, dtype=np.int64).reshape(-1)
    parents = np.asarray(parents, dtype=np.int64).reshape(-1)
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != tokens.size + 1 or parents.size != tokens.size:
        raise ValueError(f"need p (n+1, V) and n parents for n={tokens.size} nodes, got {p.shape}, {parents.size}")
    children: dict[int, dict[int, int]] = {}
    for i, (x, up) in enumerate(zip(tokens.tolist(), parents.tolist(), strict=True)):
        _check_token(x, p.shape[1])
        if not -1 <= up < i:
            raise ValueError(f"node {i}'s parent {up} is not the root (-1) or an earlier node")
        children.setdefault(up, {}).setdefault(x, i)  # the first of equal siblings: the others are never reached
    path: list[int] = []
    node = -1
    while True:
        y = sample_probs(p[node + 1], rng)
        nxt = children.get(node, {}).get(y)
        if nxt is None:
            return path, y
        path.append(nxt)
        node = nxt


def block_weights(draft_tokens, q_hat: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Block verification's two sequences for one draft block (Sun et al., Algorithm 2).

    ``a[i]`` (i = 0..L, a[0] = 1) is min(1, a[i-1] p_i(x_i) / q_hat_i(x_i)): the chance the prefix x_1..x_i
    survives as a whole, so a later ratio above one can make up an earlier deficit; ``h[i-1]`` is the chance
    prefix i passes its own test: R / (R + 1 - a[i]) with R the mass of max(a[i] p_{i+1} - q_hat_{i+1}, 0)
    (1 when that is 0/0), and a[L] for the whole block. The longest passing prefix is kept."""
    return _block_weights(*_round(draft_tokens, q_hat, p))


def _block_weights(tokens: np.ndarray, q_hat: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n_draft = tokens.size
    a = np.ones(n_draft + 1)
    h = np.empty(n_draft)
    for n in range(n_draft):
        x = int(tokens[n])
        a[n + 1] = min(1.0, a[n] * p[n, x] / _draft_prob(q_hat, n, x))
    for n in range(n_draft - 1):
        r = float(np.maximum(a[n + 1] * p[n + 1] - q_hat[n + 1], 0.0).sum())
        den = r + 1.0 - a[n + 1]
        h[n] = r / den if den > 0 else 1.0
    if n_draft:
        h[-1] = a[-1]
    return a, h


def verify_block(draft_tokens, q_hat: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    """Block verification: the same drafts, q_hat and p as :func:`verify`, never fewer tokens in expectation.

    One uniform per draft (all L drawn, whatever the values); the kept length tau is the longest prefix whose
    uniform falls below its ``h``; the next token comes from p_{L+1} when every draft is kept, else from the
    residual max(a[tau] p_{tau+1} - q_hat_{tau+1}, 0) (p_{tau+1} itself when that is all zeros)."""
    tokens, q_hat, p = _round(draft_tokens, q_hat, p)
    a, h = _block_weights(tokens, q_hat, p)
    passed = np.flatnonzero(rng.random(h.size) < h)
    tau = int(passed[-1]) + 1 if passed.size else 0
    if tau == tokens.size:
        return tau, sample_probs(p[tau], rng)
    return tau, resample(p[tau], q_hat[tau], rng, scale=a[tau])


def kept_law(rule: str, draft_tokens, q_hat: np.ndarray, p: np.ndarray) -> np.ndarray:
    """P(tau = i), i = 0..L: how many of these drafts ``rule`` keeps, in closed form. Both rules' laws for the
    same drafts price a rule against the other without running it (E[tau] = law @ arange(L + 1))."""
    tokens, q_hat, p = _round(draft_tokens, q_hat, p)
    if rule == "block":
        h = _block_weights(tokens, q_hat, p)[1]
        after = np.append(np.cumprod((1.0 - h)[::-1])[::-1], 1.0)  # P(no later prefix passes)
        return np.append(1.0, h) * after
    verify_rule(rule)
    acc = np.array([min(1.0, p[n, x] / _draft_prob(q_hat, n, x)) for n, x in enumerate(tokens.tolist())])
    return np.append(np.cumprod(np.append(1.0, acc))[:-1] * (1.0 - acc), np.prod(acc))


RULES = {"token": verify, "block": verify_block}  # the cloud's verification rules, by their config name


def verify_rule(name: str):
    """A verification rule by name; an unknown one raises, naming the valid ones."""
    if name not in RULES:
        raise ValueError(f"unknown verification rule {name!r}; valid: {', '.join(RULES)}")
    return RULES[name]


def rejection_probability(q_hat: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Exact probability that a draft from q_hat is rejected by p: TV(q_hat, p) (eq. 14)."""
    return 0.5 * np.abs(np.asarray(q_hat, dtype=np.float64) - np.asarray(p, dtype=np.float64)).sum(-1)
