import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Span,
} from '@opentelemetry/api';
import type { QueueName } from '@lpi/access-matrix';
import { TRACEPARENT } from './contracts';

// Explicit spans at the two ends of a queue (ADR 0023): the trace crosses Redis as the
// job's `traceparent`, so one payment is one trace from the HTTP request to the last consumer.
// While no tracer provider is registered these are no-op spans and no traceparent is made.

const tracer = () => trace.getTracer('lpi.messaging');

const attributesOf = (queue: QueueName, jobId: string, operation: 'send' | 'process') => ({
  'messaging.system': 'bullmq',
  'messaging.destination.name': queue,
  'messaging.operation.type': operation,
  'messaging.message.id': jobId,
});

async function endAfter<T>(span: Span, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    // a wait the handler asked for (RescheduleJobError) is not a failure
    if ((err as Error)?.name === 'DelayedError') throw err;
    // the error's class or code only: messages may quote what a caller sent
    const code = (err as { code?: unknown }).code;
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: typeof code === 'string' ? code : (err as Error)?.name,
    });
    throw err;
  } finally {
    span.end();
  }
}

/** Runs `enqueue` in a producer span, handing it the `traceparent` to store with the job. */
export function withProducerSpan<T>(
  queue: QueueName,
  jobId: string,
  enqueue: (traceparent: string | undefined) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(
    `${queue} publish`,
    { kind: SpanKind.PRODUCER, attributes: attributesOf(queue, jobId, 'send') },
    (span) =>
      endAfter(span, () => {
        const carrier: Record<string, string> = {};
        propagation.inject(context.active(), carrier);
        return enqueue(carrier.traceparent);
      }),
  );
}

/**
 * Runs a job's handler in a consumer span, the child of the span that enqueued it. Starts
 * from the root context, never from whatever context the worker's loop happened to carry.
 */
export function withConsumerSpan<T>(
  queue: QueueName,
  jobId: string,
  traceparent: string | undefined,
  run: () => Promise<T>,
): Promise<T> {
  const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
  return tracer().startActiveSpan(
    `${queue} process`,
    { kind: SpanKind.CONSUMER, attributes: attributesOf(queue, jobId, 'process') },
    parent,
    (span) => endAfter(span, run),
  );
}

/** The trace id a job's `traceparent` names, for its log lines; undefined without one. */
export function traceIdOf(traceparent: unknown): string | undefined {
  return typeof traceparent === 'string' && TRACEPARENT.test(traceparent)
    ? traceparent.split('-')[1]
    : undefined;
}
