import { randomBytes, randomUUID } from 'node:crypto';
import { denied } from '../backend';
import type { TemplateEntity } from './identity-template';

/** Entities and aliases, as Vault's identity store keeps them (identity_store_util.go). */
export interface Alias {
  id: string;
  name: string;
  mountAccessor: string;
  mountPath: string;
  mountType: string;
  metadata: Record<string, string>;
  creationTime: string;
}

export interface Entity extends TemplateEntity {
  disabled: boolean;
  aliases: Alias[];
  creationTime: string;
  lastUpdateTime: string;
}

export interface AuthMount {
  path: string;
  type: string;
  accessor: string;
}

export class IdentityStore {
  readonly entities = new Map<string, Entity>();

  constructor(private readonly now: () => number) {}

  /**
   * CreateOrFetchEntity: the alias `(mount accessor, name)` names one entity for good, so every
   * login through one AppRole role or one service account gets the same entity (`sub`).
   * A disabled entity cannot log in (request_handling.go: permission denied).
   */
  entityForLogin(mount: AuthMount, aliasName: string, metadata: Record<string, string>): Entity {
    const at = new Date(this.now()).toISOString();
    let entity = this.byAlias(mount.accessor, aliasName);
    if (!entity) {
      entity = {
        id: randomUUID(),
        name: `entity_${randomBytes(4).toString('hex')}`,
        metadata: {},
        disabled: false,
        creationTime: at,
        lastUpdateTime: at,
        aliases: [],
      };
      entity.aliases.push({
        id: randomUUID(),
        name: aliasName,
        mountAccessor: mount.accessor,
        mountPath: mount.path,
        mountType: mount.type,
        metadata: { ...metadata },
        creationTime: at,
      });
      this.entities.set(entity.id, entity);
    } else {
      const alias = entity.aliases.find(
        (a) => a.mountAccessor === mount.accessor && a.name === aliasName,
      )!;
      if (JSON.stringify(alias.metadata) !== JSON.stringify(metadata)) {
        alias.metadata = { ...metadata };
        entity.lastUpdateTime = at;
      }
    }
    if (entity.disabled) throw denied();
    return entity;
  }

  private byAlias(accessor: string, name: string): Entity | undefined {
    for (const e of this.entities.values())
      if (e.aliases.some((a) => a.mountAccessor === accessor && a.name === name)) return e;
    return undefined;
  }

  /** `identity/entity/id/:id` read */
  describe(e: Entity): Record<string, unknown> {
    return {
      aliases: e.aliases.map((a) => ({
        canonical_id: e.id,
        creation_time: a.creationTime,
        custom_metadata: null,
        id: a.id,
        last_update_time: a.creationTime,
        local: false,
        merged_from_canonical_ids: null,
        metadata: a.metadata,
        mount_accessor: a.mountAccessor,
        mount_path: a.mountPath,
        mount_type: a.mountType,
        name: a.name,
      })),
      creation_time: e.creationTime,
      direct_group_ids: [],
      disabled: e.disabled,
      group_ids: [],
      id: e.id,
      inherited_group_ids: [],
      last_update_time: e.lastUpdateTime,
      merged_entity_ids: null,
      metadata: Object.keys(e.metadata).length ? e.metadata : null,
      name: e.name,
      namespace_id: 'root',
      policies: [],
    };
  }
}
