import { badRequest, notFound, type Backend, type Reply, type Route } from '../backend';

interface KvEntry {
  versions: {
    data: Record<string, unknown>;
    created_time: string;
    deletion_time: string;
    destroyed: boolean;
  }[];
  created_time: string;
  updated_time: string;
}

/** KV v2 at `secret/` (vault-plugin-secrets-kv path_data.go, path_metadata.go). */
export class KvBackend implements Backend {
  readonly mount = 'secret/';
  readonly type = 'kv';
  readonly routes: Route[];
  private readonly kv = new Map<string, KvEntry>();

  constructor(
    private readonly now: () => number,
    private readonly onIssued: (values: string[]) => void,
  ) {
    this.routes = [
      {
        pattern: /^data\/(.+)$/,
        exists: ({ params }) => this.kv.has(params[0]),
        operations: {
          read: (r) => this.read(r.params[0], r.body.version),
          create: (r) => this.write(r.params[0], r.body),
          update: (r) => this.write(r.params[0], r.body),
          delete: (r) => this.softDelete(r.params[0]),
        },
      },
      {
        pattern: /^metadata\/(.*)$/,
        operations: {
          list: (r) => this.list(r.params[0]),
          read: (r) => this.metadata(r.params[0]),
          delete: (r) => (void this.kv.delete(r.params[0]), null),
        },
      },
    ];
  }

  private read(key: string, versionParam: unknown): Reply {
    const entry = this.kv.get(key);
    if (!entry) throw notFound();
    const version = versionParam ? Number(versionParam) : entry.versions.length;
    const v = Number.isInteger(version) ? entry.versions[version - 1] : undefined;
    if (!v) throw notFound();
    const metadata = {
      created_time: v.created_time,
      custom_metadata: null,
      deletion_time: v.deletion_time,
      destroyed: v.destroyed,
      version,
    };
    // a soft-deleted or destroyed version: 404 with the envelope (logical.RespondWithStatusCode)
    if (v.deletion_time || v.destroyed) return { data: { data: null, metadata }, status: 404 };
    return { data: { data: v.data, metadata } };
  }

  private softDelete(key: string): Reply {
    const entry = this.kv.get(key);
    if (entry)
      entry.versions[entry.versions.length - 1].deletion_time = new Date(this.now()).toISOString();
    return null;
  }

  private write(key: string, body: Record<string, unknown>): Reply {
    const entry = this.kv.get(key);
    const options = body.options;
    const cas =
      options && typeof options === 'object' ? (options as { cas?: unknown }).cas : undefined;
    const current = entry?.versions.length ?? 0;
    if (cas !== undefined && Number(cas) !== current)
      throw badRequest('check-and-set parameter did not match the current version');
    if (!body.data || typeof body.data !== 'object' || Array.isArray(body.data))
      throw badRequest('no data provided');
    const at = new Date(this.now()).toISOString();
    const next = entry ?? { versions: [], created_time: at, updated_time: at };
    // every stored value but identifiers (`client_id`: a name, not a secret)
    this.onIssued(
      Object.entries(body.data as Record<string, unknown>)
        .filter(([k, v]) => typeof v === 'string' && !k.endsWith('_id'))
        .map(([, v]) => String(v)),
    );
    next.versions.push({
      data: body.data as Record<string, unknown>,
      created_time: at,
      deletion_time: '',
      destroyed: false,
    });
    next.updated_time = at;
    this.kv.set(key, next);
    return {
      data: {
        created_time: at,
        custom_metadata: null,
        deletion_time: '',
        destroyed: false,
        version: next.versions.length,
      },
    };
  }

  private list(prefix: string): Reply {
    const keys = [
      ...new Set(
        [...this.kv.keys()]
          .filter((k) => k.startsWith(prefix))
          .map((k) => {
            const rest = k.slice(prefix.length);
            const i = rest.indexOf('/');
            return i < 0 ? rest : rest.slice(0, i + 1);
          }),
      ),
    ].sort();
    if (!keys.length) throw notFound();
    return { data: { keys } };
  }

  private metadata(key: string): Reply {
    const entry = this.kv.get(key);
    if (!entry) throw notFound();
    return {
      data: {
        cas_required: false,
        created_time: entry.created_time,
        current_version: entry.versions.length,
        custom_metadata: null,
        delete_version_after: '0s',
        max_versions: 0,
        oldest_version: 1,
        updated_time: entry.updated_time,
        versions: Object.fromEntries(
          entry.versions.map((v, i) => [
            String(i + 1),
            {
              created_time: v.created_time,
              deletion_time: v.deletion_time,
              destroyed: v.destroyed,
            },
          ]),
        ),
      },
    };
  }
}
