// Runs a payment-service worker that takes one job and never finishes it; the test SIGKILLs
// this process to leave the job active with an expiring lock.
import { createMessaging } from '../messaging';

const [port, password, prefix] = process.argv.slice(2);
const messaging = createMessaging({
  service: 'payment-service',
  redis: { host: '127.0.0.1', port: Number(port), password },
  prefix,
  lockDurationMs: 1000,
  stalledIntervalMs: 500,
});
messaging.consume('payments', async (envelope) => {
  process.stdout.write(`picked ${envelope.data.payment_id}\n`);
  await new Promise(() => undefined);
});
messaging.start().catch((err: unknown) => {
  process.stderr.write(String(err));
  process.exit(1);
});
