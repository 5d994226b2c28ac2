import type { HttpClient } from "./http.js";
import type { Realtime } from "./realtime.js";

/** What every part of one client shares. */
export interface Context {
  http: HttpClient;
  realtime: Realtime;
}
