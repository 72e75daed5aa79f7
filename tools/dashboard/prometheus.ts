// The few lines of the Prometheus text format the dashboard reads: samples, no types or help.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

const valueOfText = (text: string): number =>
  text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m || line.startsWith('#')) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (m[3] ?? '').matchAll(LABEL))
      labels[key] = value.replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
    samples.push({ name: m[1], labels, value: valueOfText(m[4]) });
  }
  return samples;
}

/** The samples of one metric whose labels include `match`. */
export const select = (
  samples: readonly Sample[],
  name: string,
  match: Record<string, string> = {},
): Sample[] =>
  samples.filter(
    (s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v),
  );

/** The first matching sample's value, or null when the metric is not (yet) there. */
export const valueOf = (
  samples: readonly Sample[],
  name: string,
  match: Record<string, string> = {},
): number | null => select(samples, name, match)[0]?.value ?? null;
