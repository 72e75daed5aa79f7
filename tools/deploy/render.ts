import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = join(__dirname, '..', '..');
export const OVERLAYS_DIR = join(REPO_ROOT, 'deploy', 'k8s', 'overlays');
export const KUBECTL = process.env['KUBECTL'] ?? '/usr/bin/kubectl';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export const overlayNames = (): string[] =>
  readdirSync(OVERLAYS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();

export const kubectlAvailable = (): boolean => existsSync(KUBECTL);

/** Renders one overlay with `kubectl kustomize` and parses every document. */
export function renderOverlay(overlay: string): K8sObject[] {
  const rendered = execFileSync(KUBECTL, ['kustomize', join(OVERLAYS_DIR, overlay)], {
    encoding: 'utf8',
  });
  return parseAllDocuments(rendered).map((doc) => {
    if (doc.errors.length > 0) throw doc.errors[0];
    return doc.toJS() as K8sObject;
  });
}
