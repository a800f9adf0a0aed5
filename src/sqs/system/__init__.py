"""The edge-cloud system: the two components (``edge``, ``cloud``) that share only bytes, the session
that runs them (``session``), the link and its latency account (``latency``, ``channel``), drafting
policies (``adaptive``) and the one metrics tally every producer pools (``metrics``)."""
