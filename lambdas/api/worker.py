"""order-api export worker: runs queued export jobs from SQS, one message per job.

Lambda's SQS event source sends batches; a message that fails is reported in
``batchItemFailures`` so SQS redelivers only that one (the event source mapping must have
``ReportBatchItemFailures`` on). A batch where every message failed is also answered with
the list instead of an error, so the outcome is the same per message either way. SQS
delivers at least once, so running a job again is harmless: a finished job is skipped.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from api import jobs, service

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "order-api"))
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def handle_record(record: SQSRecord) -> str:
    """Run the job one message names; raises so the message counts as failed."""
    try:
        request = jobs.parse_export_message(record.body)
        outcome = service.run_export(request, now=datetime.now(UTC))
    except Exception:
        logger.exception(
            "export message failed; SQS will redeliver it",
            extra={"message_id": record.message_id},
        )
        raise
    logger.info(
        "export job handled",
        extra={
            "message_id": record.message_id,
            "job_id": request.job_id,
            "order_id": request.order_id,
            "outcome": outcome,
        },
    )
    return outcome


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Process one SQS batch and report the messages that failed."""
    return dict(
        process_partial_response(
            event=event, record_handler=handle_record, processor=processor, context=context
        )
    )
