"""The workflow's steps: what `workflow/scripts/*.py` call, one function a rule; files in, files out, the math below."""
