// Jobs per second per queue: the change in jobs processed over the last half minute of
// polls (one poll is too short a window to say anything).
const WINDOW_MS = 30_000;

export class Throughput {
  private readonly history = new Map<string, { at: number; total: number }[]>();

  /** Records a queue's processed total now and returns its rate over the window. */
  observe(queue: string, total: number, at = Date.now()): number | null {
    const points = (this.history.get(queue) ?? []).filter((p) => at - p.at <= WINDOW_MS);
    points.push({ at, total });
    this.history.set(queue, points);
    const first = points[0];
    const seconds = (at - first.at) / 1000;
    return seconds > 0 ? Math.max(0, total - first.total) / seconds : null;
  }
}
