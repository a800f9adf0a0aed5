"""Trace analyses: the logits cache and its one reader (``logitcache``), trace-driven predictions of
every cell (``sweep``) and the draft-length headroom (``headroom``). Arrays in, rows out; no model run."""
