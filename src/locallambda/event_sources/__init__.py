"""Event source mappings at work: pollers that read SQS, Kinesis and DynamoDB Streams through the
AWS API and invoke functions with batches of records, as AWS's pollers do.

``sources.EventSources`` is the entry point the app factory builds; the control plane tells it
about mapping changes and it invokes functions through seams filled in ``app.py``. This package
imports neither ``control`` nor ``invoke``.
"""
