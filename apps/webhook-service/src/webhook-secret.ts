/** The signing secret this service shares with the provider (from its Vault secret). */
export abstract class WebhookSecret {
  /** The current secret and the Vault version it came from (rotation re-registers). */
  abstract current(): { secret: string; version: number };
}
