import { Controller, Get, Module, Param } from '@nestjs/common';
import { Writable } from 'node:stream';
import { ServiceBootstrapModule, startService, shutdownGracefully } from './index';

const silent = new Writable({ write: (_c, _e, cb) => cb() });

@Controller('orders')
class OrdersController {
  @Get(':id')
  one(@Param('id') id: string) {
    return { id };
  }
}

@Module({
  imports: [ServiceBootstrapModule.forService({ service: 'orders-test', logDestination: silent })],
  controllers: [OrdersController],
})
class OrdersModule {}

/** The value of the sample of `name` whose labels include `labels`, summed over the rest. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const has = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map(([, k, v]) => [k, v]),
    );
    if (Object.entries(labels).every(([k, v]) => has[k] === v)) sum = (sum ?? 0) + Number(m[3]);
  }
  return sum;
}

describe('GET /metrics', () => {
  it('counts requests by route template, never by raw path, with process figures', async () => {
    const app = await startService({ service: 'orders-test', module: OrdersModule, port: 0 });
    const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    try {
      for (const id of ['ord_1', 'ord_2'])
        expect((await fetch(`${base}/orders/${id}`)).status).toBe(200);
      expect((await fetch(`${base}/pay_secretish/nowhere`)).status).toBe(404);

      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await res.text();

      const service = 'orders-test';
      const get = { service, method: 'GET' };
      expect(
        sample(text, 'lpi_http_requests_total', { ...get, route: '/orders/:id', status: '200' }),
      ).toBe(2);
      expect(
        sample(text, 'lpi_http_requests_total', { ...get, route: 'unmatched', status: '404' }),
      ).toBe(1);
      expect(
        sample(text, 'lpi_http_request_duration_seconds_count', { ...get, route: '/orders/:id' }),
      ).toBe(2);
      expect(sample(text, 'process_resident_memory_bytes', { service })).toBeGreaterThan(0);
      // no raw path, no id in any label
      expect(text).not.toMatch(/ord_1|pay_secretish|nowhere/);
    } finally {
      await shutdownGracefully(app);
    }
  });
});
