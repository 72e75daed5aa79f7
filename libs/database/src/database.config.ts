import { z } from 'zod';
import { DATABASE_NAME, type ServiceName } from '@lpi/access-matrix';
import { loadConfig, setting } from '@lpi/service-bootstrap';

const databaseSettings = {
  DATABASE_HOST: setting.nonEmpty(),
  DATABASE_PORT: setting.port(5432),
  DATABASE_NAME: setting.nonEmpty().default(DATABASE_NAME),
  /** Connections per credential generation (two generations overlap during a rotation). */
  DATABASE_POOL_MAX: setting.positiveInt(8),
  /** PEM bundle of the CA signing the server's certificate: TLS with verification when set. */
  DATABASE_CA_FILE: z.string().optional(),
};

export type DatabaseConfig = ReturnType<typeof readDatabaseConfig>;

/** The variables readDatabaseConfig reads (start-up refuses others with the project prefixes). */
export const DATABASE_SETTING_NAMES: readonly string[] = Object.keys(databaseSettings);

/** Where the database is; who the service is there comes from Vault (`database/creds/<service>`). */
export function readDatabaseConfig(
  service: ServiceName,
  env: Record<string, string | undefined> = process.env,
) {
  const c = loadConfig(service, databaseSettings, env);
  return {
    host: c.DATABASE_HOST,
    port: c.DATABASE_PORT,
    database: c.DATABASE_NAME,
    poolMax: c.DATABASE_POOL_MAX,
    caFile: c.DATABASE_CA_FILE,
  };
}
