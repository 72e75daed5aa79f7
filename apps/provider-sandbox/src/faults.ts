/** Injected faults, set through the admin API; drills use them to break the provider on purpose. */
export class FaultState {
  tokenEndpointDown = false;
  apiStatus?: { status: number; remaining: number };
  /** Delay write responses after the charge is recorded (the worst moment to crash). */
  responseDelayMs = 0;

  /** Takes one injected API failure, if any is pending. */
  takeApiFailure(): number | undefined {
    if (!this.apiStatus || this.apiStatus.remaining <= 0) return undefined;
    this.apiStatus.remaining -= 1;
    return this.apiStatus.status;
  }

  clear(): void {
    this.tokenEndpointDown = false;
    this.apiStatus = undefined;
    this.responseDelayMs = 0;
  }
}
