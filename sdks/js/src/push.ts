import type { HttpClient } from "./http.js";

export type Platform = "android" | "ios" | "web";

export interface PushDevice {
  token: string;
  uid: string;
  platform: Platform;
  appVersion: string | null;
  active: boolean;
  topics: string[];
  [field: string]: unknown;
}

const device = (token: string): string => `/push/devices/${encodeURIComponent(token)}`;

/** Push notification devices of the signed-in user (FCM registration tokens). */
export class Push {
  constructor(private readonly http: HttpClient) {}

  /**
   * Register (or refresh) this device's token for the signed-in user; call again whenever
   * the token changes. A token registered by another user moves to this one.
   */
  register(token: string, options: { platform: Platform; appVersion?: string }): Promise<PushDevice> {
    return this.http.request("POST", "/push/devices", {
      body: { token, platform: options.platform, ...(options.appVersion ? { appVersion: options.appVersion } : {}) },
    });
  }

  /** Stop sending to this token (on sign-out, or when the app drops it). */
  async unregister(token: string): Promise<void> {
    await this.http.request("DELETE", device(token));
  }

  /** The signed-in user's devices. */
  async list(): Promise<PushDevice[]> {
    return (await this.http.request<{ devices: PushDevice[] }>("GET", "/push/devices")).devices;
  }

  async subscribeToTopic(token: string, topic: string): Promise<void> {
    await this.http.request("PUT", `${device(token)}/topics/${encodeURIComponent(topic)}`);
  }

  async unsubscribeFromTopic(token: string, topic: string): Promise<void> {
    await this.http.request("DELETE", `${device(token)}/topics/${encodeURIComponent(topic)}`);
  }
}
