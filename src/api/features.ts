/**
 * maubot's `api_features` as Trellis has them (GET /features, POST /auth/ping):
 * which parts of maubot's management API this daemon serves in maubot's
 * shape. The one place to change when a part is added.
 */
export const API_FEATURES = {
  login: true,
  plugin: true,
  plugin_upload: true,
  instance: true,
  /** maubot's table browser and SQL query routes (GET /instance/{id}/database in maubot's shape, POST …/database/query), read-only here over the instance's key/value table. */
  instance_database: true,
  client: true,
  /** maubot's /proxy/{id}/_matrix/… passthrough, here media download, thumbnail and upload only (avatars in maubot's UI). */
  client_proxy: true,
  client_auth: true,
  /** maubot's development "open in editor": never in Trellis (GET /debug/open says enabled: false). */
  dev_open: false,
  log: true,
} as const satisfies Record<string, boolean>;

export type ApiFeatures = Record<keyof typeof API_FEATURES, boolean>;
