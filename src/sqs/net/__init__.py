"""The edge and the cloud as two processes: authenticated frames over TCP (``sqs serve`` / ``sqs edge``)."""
