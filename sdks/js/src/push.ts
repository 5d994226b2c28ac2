import type { HttpClient } from "./http.js";

export type Platform = "android" | "ios" | "web";

export interface PushDevice {
  token: string;
  platform: Platform;
  appVersion?: string | null;
  [field: string]: unknown;
}

/** Push notification devices of the signed-in user (FCM registration tokens). */
export class Push {
  constructor(private readonly http: HttpClient) {}

  /** Register (or refresh) this device's token; call again whenever the token changes. */
  register(token: string, options: { platform: Platform; appVersion?: string }): Promise<PushDevice> {
    return this.http.request("POST", "/push/devices", {
      body: { token, platform: options.platform, ...(options.appVersion ? { appVersion: options.appVersion } : {}) },
    });
  }

  /** Stop sending to this token (on sign-out, or when the app drops it). */
  async unregister(token: string): Promise<void> {
    await this.http.request("DELETE", `/push/devices/${encodeURIComponent(token)}`);
  }
}
