import { Controller, Get, Injectable } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';

export type ReadinessCheck = () => Promise<void>;

/** Modules register what "ready" means for them (Redis reachable, Vault token valid...). */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();
  private shuttingDown = false;

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  entries(): [string, ReadinessCheck][] {
    const shutdown: ReadinessCheck = async () => {
      if (this.shuttingDown) throw new Error('shutting down');
    };
    return [['lifecycle', shutdown], ...this.checks.entries()];
  }
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly readiness: ReadinessRegistry,
  ) {}

  /** Liveness: the process serves HTTP. Never depends on anything external. */
  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  /** Readiness: every registered dependency answers. */
  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check(
      this.readiness.entries().map(([name, check]) => async () => {
        const session = this.indicators.check(name);
        try {
          await check();
          return session.up();
        } catch (err) {
          return session.down({ message: err instanceof Error ? err.message : 'unavailable' });
        }
      }),
    );
  }
}
