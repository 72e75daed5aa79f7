// Checks real HTTP answers against a service's served OpenAPI 3.1 document: the route and
// status are documented, the required headers are there and match, the JSON body matches
// the response schema (ajv, JSON Schema 2020-12, which OpenAPI 3.1 schemas are).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

type Json = { [key: string]: unknown };

/** One answer as a client saw it. */
export interface ObservedResponse {
  method: string;
  /** The request path, query string allowed. */
  path: string;
  status: number;
  headers: Headers;
  /** The raw body text ('' when none). */
  text: string;
}

const DOC_ID = 'https://lpi.local/openapi.json';

const pointerSegment = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export class OpenApiConformance {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly templates: { template: string; pattern: RegExp }[];

  constructor(private readonly doc: Json) {
    addFormats(this.ajv);
    this.ajv.addSchema(doc, DOC_ID);
    this.templates = Object.keys(doc.paths as Json).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.')}$`),
    }));
  }

  /** What about this answer the document does not describe; empty when it conforms. */
  problems(r: ObservedResponse): string[] {
    const where = `${r.method} ${r.path} -> ${r.status}`;
    const path = r.path.split('?')[0];
    const template = this.templates.find((t) => t.pattern.test(path))?.template;
    const method = r.method.toLowerCase();
    const op = template ? ((this.doc.paths as Json)[template] as Json)[method] : undefined;
    if (!template || !op) return [`${where}: the document has no operation for this route`];
    const responses = (op as Json).responses as Json;
    const status = String(r.status);
    const response = (responses[status] ?? responses.default) as Json | undefined;
    if (!response) return [`${where}: status ${status} is not documented`];
    const base = `#/paths/${pointerSegment(template)}/${method}/responses/${status}`;
    return [
      ...this.headerProblems(where, base, response, r.headers),
      ...this.bodyProblems(where, base, response, r),
    ];
  }

  private headerProblems(where: string, base: string, response: Json, got: Headers): string[] {
    const problems: string[] = [];
    for (const [name, declared] of Object.entries((response.headers ?? {}) as Json)) {
      const ref = (declared as { $ref?: string }).$ref;
      const header = (ref ? this.resolve(ref) : declared) as { required?: boolean };
      const value = got.get(name);
      if (value === null) {
        if (header.required) problems.push(`${where}: required header ${name} is missing`);
        continue;
      }
      const pointer = ref ?? `${base}/headers/${pointerSegment(name)}`;
      const check = this.validator(`${pointer}/schema`);
      if (!check(value))
        problems.push(`${where}: header ${name}: ${this.ajv.errorsText(check.errors)}`);
    }
    return problems;
  }

  private bodyProblems(where: string, base: string, response: Json, r: ObservedResponse): string[] {
    const content = response.content as Json | undefined;
    if (!content) return r.text ? [`${where}: a body where the document declares none`] : [];
    const mediaType = (r.headers.get('content-type') ?? '').split(';')[0].trim();
    if (!content[mediaType])
      return [`${where}: content-type ${mediaType || '(none)'} is not one the document declares`];
    if (mediaType !== 'application/json') return []; // text: any string
    let body: unknown;
    try {
      body = JSON.parse(r.text);
    } catch {
      return [`${where}: the body is not JSON`];
    }
    const check = this.validator(`${base}/content/application~1json/schema`);
    return check(body) ? [] : [`${where}: body: ${this.ajv.errorsText(check.errors)}`];
  }

  private validator(pointer: string): ValidateFunction {
    let check = this.compiled.get(pointer);
    if (!check) {
      check = this.ajv.compile({ $ref: `${DOC_ID}${pointer}` });
      this.compiled.set(pointer, check);
    }
    return check;
  }

  private resolve(ref: string): unknown {
    return ref
      .replace(/^#\//, '')
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((node, key) => (node as Json)[key], this.doc);
  }
}

// the validator is ESM only (and reads its meta-schemas through import.meta.url), which
// jest's CommonJS runtime cannot load: it runs in a plain node process instead
const VALIDATE_31 = `
import { Validator } from '@seriousme/openapi-schema-validator';
let text = '';
for await (const chunk of process.stdin) text += chunk;
const validator = new Validator();
const res = await validator.validate(JSON.parse(text));
process.stdout.write(JSON.stringify({ valid: res.valid && validator.version === '3.1', version: validator.version, errors: res.errors ?? [] }));
`;

/** Validates a document against the OpenAPI 3.1 schema (@seriousme/openapi-schema-validator). */
export function validateOpenApi31(
  doc: unknown,
): Promise<{ valid: boolean; version: string; errors: unknown[] }> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--input-type=module', '-e', VALIDATE_31],
      { cwd: join(__dirname, '..', '..') },
      (err, stdout) => (err ? reject(err) : resolve(JSON.parse(stdout))),
    );
    child.stdin?.end(JSON.stringify(doc));
  });
}
