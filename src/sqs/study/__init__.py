"""The study: live decoding of text prompts (``decode``), the workflow's grid and its checks (``grid``),
cells into summary rows (``aggregate``), the live drafting studies (``policies``), the toy
simulation (``simulate``) and the prompt sets (``prompts``)."""
