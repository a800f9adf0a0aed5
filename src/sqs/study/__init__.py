"""The study: live decoding of text prompts (``decode``), the workflow's grid and its checks (``grid``),
cells into summary rows (``aggregate``), issue #7's live policy studies (``policies``), the toy
simulation (``simulate``) and the prompt sets (``prompts``)."""
