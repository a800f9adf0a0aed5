"""Workflow steps: the file-reading and file-writing functions the workflow scripts call, above the math."""
