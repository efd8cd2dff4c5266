/**
 * systemd's notify protocol for `Type=notify` units (deploy/systemd/trellis.service):
 * READY=1 once the API listens and the instances were started, STATUS= lines
 * with counts, RELOADING=1/READY=1 around a SIGHUP, STOPPING=1 on SIGTERM and
 * WATCHDOG=1 from the event loop, so a blocked loop stops the pings and the
 * service manager restarts the daemon (instead of the seeds' curl-and-restart
 * timers). Active only when systemd sets NOTIFY_SOCKET (and WATCHDOG_USEC).
 *
 * Node cannot send on a unix datagram socket, so each message goes through
 * `systemd-notify` (hence NotifyAccess=all in the unit). It runs in its
 * default blocking mode: it waits until the service manager has read the
 * message, so the message is never dropped for coming from a process that
 * has already exited.
 */
import { execFile } from 'node:child_process';

export interface ServiceManagerOptions {
  env?: NodeJS.ProcessEnv;
  /** Told when a message could not be sent (systemd-notify missing, refused). */
  onError?(message: string): void;
}

export class ServiceManager {
  readonly #env: NodeJS.ProcessEnv;
  readonly #onError: (message: string) => void;
  #watchdog: NodeJS.Timeout | null = null;
  #status = '';
  #warned = false;

  /** Null when the process does not run under a notify-aware service manager. */
  static fromEnv(options: ServiceManagerOptions = {}): ServiceManager | null {
    const env = options.env ?? process.env;
    return env.NOTIFY_SOCKET ? new ServiceManager(env, options.onError) : null;
  }

  private constructor(env: NodeJS.ProcessEnv, onError: ServiceManagerOptions['onError']) {
    this.#env = env;
    this.#onError = onError ?? (() => undefined);
  }

  /** The watchdog interval the unit asked for (WatchdogSec), in ms, or null; only for this process (WATCHDOG_PID). */
  get watchdogMs(): number | null {
    const usec = Number(this.#env.WATCHDOG_USEC);
    if (!Number.isFinite(usec) || usec <= 0) return null;
    if (this.#env.WATCHDOG_PID && Number(this.#env.WATCHDOG_PID) !== process.pid) return null;
    return usec / 1000;
  }

  ready(status: string): void {
    this.#status = status;
    this.#send([`--pid=${process.pid}`, '--ready', `--status=${status}`]);
    this.#startWatchdog();
  }

  status(status: string): void {
    if (status === this.#status) return;
    this.#status = status;
    this.#send([`--status=${status}`]);
  }

  reloading(): void {
    this.#send(['RELOADING=1', '--status=reloading the configuration']);
  }

  stopping(): void {
    this.stopWatchdog();
    this.#send(['STOPPING=1', '--status=stopping']);
  }

  stopWatchdog(): void {
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#watchdog = null;
  }

  /** Pings at half the interval systemd asked for, from a timer: a blocked event loop sends none. */
  #startWatchdog(): void {
    const ms = this.watchdogMs;
    if (ms === null || this.#watchdog) return;
    this.#watchdog = setInterval(() => this.#send(['WATCHDOG=1']), Math.max(500, ms / 2));
    this.#watchdog.unref();
  }

  #send(args: string[]): void {
    execFile('systemd-notify', args, { env: this.#env, timeout: 10_000 }, (err) => {
      if (!err || this.#warned) return;
      // Said once: a missing systemd-notify would otherwise repeat every watchdog round.
      this.#warned = true;
      this.#onError(`could not notify the service manager (systemd-notify ${args[0]}): ${err.message}; the unit's Type=notify needs systemd-notify on PATH and NotifyAccess=all`);
    });
  }
}
