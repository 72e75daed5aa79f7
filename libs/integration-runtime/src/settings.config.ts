import { CALLER_AUTH_SETTING_NAMES } from '@lpi/auth';
import { DATABASE_SETTING_NAMES } from '@lpi/database';
import { SECRETS_SETTING_NAMES } from '@lpi/secrets';
import { TRACING_SETTING_NAMES, refuseUnknownSettings } from '@lpi/service-bootstrap';
import { RUNTIME_SETTING_NAMES } from './runtime.config';

/**
 * Every variable an integration service reads: its runtime settings, its Vault session,
 * its caller guard and its tracing. Start-up refuses any other variable with the project's prefixes, and
 * tools/deploy/settings.spec.ts holds every manifest and the compose file to this list.
 */
export const SERVICE_SETTING_NAMES: readonly string[] = [
  ...new Set([
    ...RUNTIME_SETTING_NAMES,
    ...SECRETS_SETTING_NAMES,
    ...DATABASE_SETTING_NAMES,
    ...CALLER_AUTH_SETTING_NAMES,
    ...TRACING_SETTING_NAMES,
  ]),
].sort();

export const refuseSettingsNoServiceReads = (
  service: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): void => refuseUnknownSettings(service, SERVICE_SETTING_NAMES, env);
