"""The edge: SLM drafting, sparsify + quantize, sample from exactly q_hat, encode the uplink bytes."""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sqs.protocol import wire
from sqs.protocol.budget import BitBudget
from sqs.protocol.probs import softmax_temperature
from sqs.protocol.schemes import Compressed, LatticeScheme, Scheme
from sqs.protocol.verify import resample, tree_path
from sqs.system.adaptive import confidence, resolution_profile
from sqs.system.compute import forward_of


@dataclass
class DraftBatch:
    """What the edge knows about the batch it just sent (never read by the cloud)."""

    message: bytes
    tokens: list[int]
    compressed: list[Compressed]
    q: list[np.ndarray] = field(repr=False)  # the SLM distributions before compression
    model_s: float = 0.0  # wall clock in SLM forwards (and temperature)
    protocol_s: float = 0.0  # wall clock in compress, sample, encode and the policy's decisions
    confidences: list[float] = field(default_factory=list)  # max q_hat of each draft
    rate_bps: float | None = None  # the uplink rate this batch was planned for
    ell: int | None = None
    forwards: list[tuple[int, int]] = field(default_factory=list)  # SLM calls: (new tokens, cached tokens)
    supports: list[int] = field(default_factory=list)  # support size of every compress, the unsent one too
    parents: list[int] | None = None  # a token tree: each node's parent (-1: the root)

    @property
    def payload_bits(self) -> int:
        return sum(c.bits for c in self.compressed)


class Edge:
    """Drafts up to ``max_draft_len`` tokens per batch while their payload fits ``budget_bits``.

    ``max_draft_len`` None: no cap, the budget alone sets the draft length (the paper's rule; the wire
    carries at most 65,535 drafts). Schemes whose ``bit_budget_applies`` is False (float32 SD) are limited
    by the draft cap alone. A ``policy`` (:mod:`sqs.system.adaptive`) may set ell before each batch and stop
    drafting early; it sees only the edge's own drafts, the rate in force and past verdicts.
    """

    def __init__(
        self,
        model,
        scheme: Scheme,
        temperature: float,
        budget_bits: int,
        max_draft_len: int | None,
        rng: np.random.Generator,
        policy=None,
    ) -> None:
        self.policy = policy
        self.model = model
        self.scheme = scheme
        self.temperature = float(temperature)
        self.budget_bits = int(budget_bits)
        self.max_draft_len = wire.MAX_DRAFTS if max_draft_len is None else int(max_draft_len)
        self.rng = rng
        self.tokens: list[int] = []
        # preemptive drafting: a guess of the cloud's next token, and drafts made after it while the
        # cloud verified the last batch (kept only if every draft is accepted and the guess comes true)
        self.guess: int | None = None
        self.pending: list[tuple[Compressed, int, np.ndarray, float]] = []
        self.carried: int | None = None  # split verification: the token drawn here, for the next uplink
        self.resample_s = 0.0  # ... and the wall clock that draw took (the session charges it to its batch)

    @property
    def _bit_limit(self) -> int:
        """The batch's payload budget; float32 SD is limited by the draft cap alone."""
        return self.budget_bits if self.scheme.bit_budget_applies else 2**62

    def start(self, prompt: Sequence[int]) -> None:
        if len(prompt) == 0:
            raise ValueError("the prompt must hold at least one token")
        self.tokens = [int(t) for t in prompt]
        self.guess, self.pending, self.carried = None, [], None

    def draft(self, rate_bps: float | None = None, wanted: int | None = None) -> DraftBatch:
        """One batch's drafts and its uplink message. ``wanted``: tokens the session still needs; a batch
        yields its accepted drafts plus the cloud's token, so the edge drafts at most ``wanted - 1``."""
        t_plan = time.perf_counter()
        cap = self.max_draft_len if wanted is None else min(self.max_draft_len, max(int(wanted) - 1, 0))
        if self.policy is not None:
            if rate_bps is None:
                raise ValueError("a drafting policy needs the uplink rate in force (rate_bps)")
            plan = self.policy.plan(rate_bps)
            cap = min(cap, plan.max_len)
            if isinstance(self.scheme, LatticeScheme):
                self.scheme.ell = plan.ell
        budget = BitBudget(self._bit_limit, cap)
        if self.scheme.spec.layout.tree:
            return self._draft_tree(budget, cap, rate_bps, time.perf_counter() - t_plan)
        self.scheme.begin_batch()
        context = list(self.tokens)
        drafts: list[tuple[Compressed, int]] = []
        qs: list[np.ndarray] = []
        confs: list[float] = []
        model_s, protocol_s = 0.0, time.perf_counter() - t_plan
        forwards: list[tuple[int, int]] = []
        supports: list[int] = []
        for comp, token, q, conf in self.pending:  # pre-drafted while the last batch was verified
            if not budget.admit(comp.charge):
                break
            drafts.append((comp, token))
            qs.append(q)
            context.append(token)
            confs.append(conf)
        self.pending = []
        least = self.scheme.min_charge(self.model.vocab_size) if self.scheme.bit_budget_applies else 0
        while budget.fits(least):  # no forward for a draft that could not fit at its cheapest
            t0 = time.perf_counter()
            q = softmax_temperature(self.model.next_logits(context), self.temperature)
            t1 = time.perf_counter()
            forwards.append(forward_of(self.model, 1, len(context) - 1))
            comp = self.scheme.compress(q)
            supports.append(comp.k)
            fits = budget.admit(comp.charge)
            token = comp.sample(self.rng) if fits else -1
            model_s += t1 - t0
            if not fits:
                protocol_s += time.perf_counter() - t1
                break  # sequential rule: this draft is not sent; C-SQS drops its update on end_batch
            drafts.append((comp, token))
            qs.append(q)
            context.append(token)
            confs.append(confidence(comp))
            if len(drafts) == 1 and getattr(self.policy, "wants_profile", False) and comp.counts is not None:
                self.policy.note_profile(resolution_profile(q, comp, self.policy.ells))  # every ell, one draft
            go_on = self.policy is None or self.policy.keep_drafting(confs, [c.bits for c, _ in drafts], rate_bps)
            protocol_s += time.perf_counter() - t1
            if not go_on:
                break
        t0 = time.perf_counter()
        v = self.model.vocab_size
        message = wire.encode_uplink(self.scheme.code, v, self.scheme.ell, self.scheme.fixed_k, drafts, self.carried)
        self.carried = None
        protocol_s += time.perf_counter() - t0
        return DraftBatch(message, [t for _, t in drafts], [c for c, _ in drafts], qs, model_s, protocol_s, confs,
                          rate_bps, getattr(self.scheme, "ell", None), forwards, supports)  # fmt: skip

    def _draft_tree(self, budget: BitBudget, cap: int, rate_bps: float | None, protocol_s: float) -> DraftBatch:
        """A token tree of at most ``cap`` nodes within the bit budget, grown best first by the draft's path
        probability (SpecExec): a node is expanded (one SLM call on its path) only when its path is the most
        probable thing left, and each expansion offers its ``branch`` most probable children. Ties go to the
        earlier entry, so the tree is a function of the draft's logits."""
        tree, v = self.scheme, self.model.vocab_size
        least = tree.min_charge(v)
        tokens: list[int] = []
        parents: list[int] = []
        comps: list[Compressed] = []
        qs: list[np.ndarray] = []
        paths: dict[int, list[int]] = {-1: []}
        forwards: list[tuple[int, int]] = []
        model_s, order = 0.0, 0
        heap: list = [(0.0, order, -1, None)]  # (-log path probability, order, node to expand | parent, child)
        while heap and len(tokens) < cap and budget.fits(least):
            cost, _, node, child = heapq.heappop(heap)
            t0 = time.perf_counter()
            if child is None:  # expand ``node``: its children become candidates
                context = self.tokens + paths[node]
                q = softmax_temperature(self.model.next_logits(context), self.temperature)
                t1 = time.perf_counter()
                forwards.append(forward_of(self.model, 1, len(context) - 1))
                for x, qx in tree.children(q):
                    order += 1
                    heapq.heappush(heap, (cost - math.log(qx), order, node, (x, q)))
                model_s += t1 - t0
                protocol_s += time.perf_counter() - t1
                continue
            x, q = child
            comp = tree.node(q, len(tokens))
            if not budget.admit(comp.charge):
                protocol_s += time.perf_counter() - t0
                break
            tokens.append(x)
            parents.append(node)
            comps.append(comp)
            qs.append(q)
            paths[len(tokens) - 1] = [*paths[node], x]
            order += 1
            heapq.heappush(heap, (cost, order, len(tokens) - 1, None))
            protocol_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        message = wire.encode_uplink(tree.code, v, 0, 0, list(zip(comps, tokens, strict=True)), parents=parents)
        protocol_s += time.perf_counter() - t0
        return DraftBatch(message, tokens, comps, qs, model_s, protocol_s, [float(c.q_hat.max()) for c in comps],
                          rate_bps, None, forwards, [0] * len(forwards), parents)  # protocol: one an expansion

    def predraft(self, batch: DraftBatch) -> tuple[float, bool, tuple[int, int], int]:
        """One more SLM step while ``batch`` is being verified (preemptive drafting).

        The first step guesses the cloud's next token as the SLM's most probable one after the whole
        batch; later steps draft after that guess, exactly as a fresh batch would. They open the next
        batch if every draft is accepted and the cloud's token equals the guess, else they are
        dropped; keeping them on that event cannot bias the text, since each is still verified against
        the q̂ it was drawn from once the prefix it assumed is real. Returns the step's seconds and
        whether the edge can go on (the next batch's cap and bit budget), the SLM call's shape and the
        support size compressed (0 for the guess, which compresses nothing).
        """
        t0 = time.perf_counter()
        context = self.tokens + batch.tokens
        if self.guess is None:
            q = softmax_temperature(self.model.next_logits(context), self.temperature)
            self.guess = int(np.argmax(q))
            return time.perf_counter() - t0, True, forward_of(self.model, 1, len(context) - 1), 0
        context = context + [self.guess] + [t for _, t, _, _ in self.pending]
        q = softmax_temperature(self.model.next_logits(context), self.temperature)
        shape = forward_of(self.model, 1, len(context) - 1)
        comp = self.scheme.compress(q)
        used = sum(c.charge for c, _, _, _ in self.pending) + comp.charge
        fits = len(self.pending) < self.max_draft_len and used <= self._bit_limit
        if fits:
            self.pending.append((comp, comp.sample(self.rng), q, confidence(comp)))
        return time.perf_counter() - t0, fits and len(self.pending) < self.max_draft_len, shape, comp.k

    def receive(self, downlink: bytes, batch: DraftBatch, round_trip_s: float | None = None) -> tuple[int, int]:
        """Apply the cloud's verdict: keep the accepted drafts, append the cloud's token (split verification after
        a rejection: draw it from the logits sent down and the q_hat the rejected draft came from).

        ``round_trip_s`` is what the edge measured from sending the batch to the verdict's arrival;
        a policy learns the cloud's compute from it.
        """
        t0 = time.perf_counter()
        v = self.model.vocab_size
        down = wire.decode_verdict(downlink, v)
        num_accepted, token = down.num_accepted, down.token
        if batch.parents is not None:  # a tree's verdict names the deepest accepted node (+ 1): read its path
            if num_accepted > len(batch.tokens) or token is None or token >= v:
                raise wire.WireFormatError(f"downlink names node {num_accepted - 1} of a tree of {len(batch.tokens)}"
                                           f", token {token}")  # fmt: skip
            path = tree_path(batch.parents, num_accepted - 1)
            self.tokens.extend(batch.tokens[i] for i in path)
            self.tokens.append(token)
            self.resample_s, self.guess = 0.0, None
            return len(path), token
        split = self.scheme.spec.layout.split
        rejected = num_accepted < len(batch.tokens)
        if num_accepted > len(batch.tokens) or (token is not None and token >= v) or (split and rejected) != (
                token is None):  # fmt: skip
            raise wire.WireFormatError(f"downlink accepts {num_accepted} of {len(batch.tokens)} drafts, token "
                                       f"{token}{' (split verification sends logits after a rejection)' * split}")
        self.resample_s = 0.0
        if token is None:
            p = softmax_temperature(down.logits, self.temperature)
            token = self.carried = resample(p, batch.compressed[num_accepted].q_hat, self.rng)
            self.resample_s = time.perf_counter() - t0
        self.scheme.end_batch(num_accepted)
        self.tokens.extend(batch.tokens[:num_accepted])
        self.tokens.append(token)
        if not (num_accepted == len(batch.tokens) and token == self.guess):
            self.pending = []  # the pre-drafts assumed another prefix
        self.guess = None
        if self.policy is not None and round_trip_s is not None:
            self.policy.observe(
                confidences=batch.confidences,
                bits=[c.bits for c in batch.compressed],
                num_accepted=num_accepted,
                edge_s=batch.model_s + batch.protocol_s,
                round_trip_s=round_trip_s,
                rate_bps=batch.rate_bps,
                ell=batch.ell,
            )
        return num_accepted, token
