/**
 * The config module's public face: loading, `trellis init`, admin password
 * hashing and policy.
 */
export { loadConfig, type LoadedConfig } from './load.ts';
export { writeInitialConfig, type InitialConfigOptions } from './init.ts';
export { hashPassword, verifyPassword, MIN_PASSWORD_LENGTH } from './password.ts';
export { passwordHashProblem, passwordHashKind, MIN_BCRYPT_COST } from './password-policy.ts';
export { ConfigError, formatPath } from './problems.ts';
export {
  trellisConfigSchema,
  SECRET_KEY_PATHS,
  HOMESERVER_NAME,
  INSTANCE_ID,
  USER_ID,
  ROOM_ID,
  type TrellisConfig,
  type HomeserverConfig,
  type ClientConfig,
  type InstanceConfig,
  type NotificationsConfig,
} from './schema.ts';
