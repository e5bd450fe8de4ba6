"""The SQS mapping tests again, with the pollers reading through the SQS API (boto3 over HTTP),
as they do for a queue at another endpoint (``LOCALLAMBDA_EVENT_SOURCE_ENDPOINT``; here this
server's own), instead of in process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Server, free_port
from tests.event_sources.test_sqs import (  # noqa: F401 - the tests run here a second time
    test_a_batching_window_gathers_messages_into_one_batch,
    test_a_failed_batch_returns_after_the_visibility_timeout_and_redrives_to_the_dlq,
    test_a_malformed_failure_report_fails_the_whole_batch,
    test_a_message_reaches_the_function_as_aws_record_and_is_deleted,
    test_fifo_keeps_order_per_message_group,
    test_non_matching_messages_are_deleted_unseen,
    test_report_batch_item_failures_deletes_only_the_successes,
)
from tests.event_sources.test_sqs_reading import (  # noqa: F401
    test_batches_run_concurrently_up_to_maximum_concurrency,
    test_records_carry_what_receive_message_gives_for_the_same_message,
)
from tests.invoke.conftest import CLI_ENV, EXECUTOR, stop_checked


@pytest.fixture(scope="module")
def srv() -> Iterator[Server]:
    port = free_port()
    server = Server(
        env={
            "LAMBDA_SYNCHRONOUS_CREATE": "1",
            "LAMBDA_EXECUTOR": EXECUTOR,
            **CLI_ENV,
            "LOCALLAMBDA_EVENT_SOURCE_ENDPOINT": f"http://127.0.0.1:{port}",
        },
        port=port,
    ).start()
    try:
        yield server
    finally:
        stop_checked(server)


@pytest.fixture()
def reads(srv: Server) -> str:
    return f"through the SQS API at {srv.url}"
