/**
 * The hooks' transformation functions: one sandbox pool (transform.ts) for the
 * instance, started only when a hook has a transform; each script compiled
 * when it is saved (the API refuses one that does not compile) or, for the
 * config's hooks, at start (logged, and its requests answered 500 saying why).
 */
import type { PluginLogger } from 'trellis/sdk';
import type { Hook } from './hooks.ts';
import { TransformRunner, type TransformLimits, type TransformOutcome } from './transform.ts';

export type TransformFailure = { ok: false; error: string };

export class Transforms {
  readonly #limits: () => TransformLimits;
  readonly #log: PluginLogger;
  #runner: TransformRunner | null = null;
  #runnerLimits = '';
  /** Hooks whose script does not compile, with the compiler's message. */
  readonly #broken = new Map<string, string>();

  constructor(limits: () => TransformLimits, log: PluginLogger) {
    this.#limits = limits;
    this.#log = log;
  }

  /** The compiler's message for a script, or null when it compiles. */
  check(code: string): Promise<string | null> {
    return this.#pool().check(code);
  }

  /** Compiles every hook's transform (at start and after a config change). */
  async checkAll(hooks: readonly Hook[]): Promise<void> {
    this.#broken.clear();
    for (const hook of hooks) {
      if (!hook.transform) continue;
      const error = await this.check(hook.transform);
      if (error === null) continue;
      this.#broken.set(hook.id, error);
      this.#log.error(`webhook "${hook.name}": its transformation function does not compile: ${error}; its requests are answered 500 until it is fixed`, { hook: hook.id });
    }
  }

  forget(hookId: string): void {
    this.#broken.delete(hookId);
  }

  async run(hook: Hook, data: unknown): Promise<TransformOutcome> {
    const broken = this.#broken.get(hook.id);
    if (broken !== undefined) return { ok: false, error: `the script does not compile: ${broken}` };
    return this.#pool().run(hook.transform, data);
  }

  async close(): Promise<void> {
    await this.#runner?.close();
    this.#runner = null;
  }

  /** The pool, started on first use and restarted when the limits in the config change. */
  #pool(): TransformRunner {
    const limits = this.#limits();
    const signature = JSON.stringify(limits);
    if (this.#runner && signature !== this.#runnerLimits) {
      void this.#runner.close();
      this.#runner = null;
    }
    this.#runnerLimits = signature;
    this.#runner ??= new TransformRunner(limits);
    return this.#runner;
  }
}
