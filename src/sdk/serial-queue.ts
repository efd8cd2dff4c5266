/**
 * One task at a time per key: what a plugin needs when two events for the
 * same user (or room, or record) may arrive while the first is still being
 * handled, and each must see what the previous one stored.
 */

/**
 * Runs tasks one after another per key, in the order they were given; tasks
 * of different keys run independently. A task that throws (or rejects) fails
 * only its own `run` promise: the next task of the key still runs. A key is
 * forgotten as soon as its last task has settled, so the queue holds only
 * keys with work in hand.
 *
 *     const perUser = new SerialQueue();
 *     ctx.onReaction((reaction) => perUser.run(reaction.sender, () => confirm(reaction)));
 */
export class SerialQueue<K = string> {
  /** The settled-either-way end of each key's chain. */
  readonly #tails = new Map<K, Promise<void>>();

  /** Runs `task` after every task given earlier for `key` has settled; resolves or rejects with it. */
  run<T>(key: K, task: () => Promise<T> | T): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Whether `key` has a task running or waiting. */
  busy(key: K): boolean {
    return this.#tails.has(key);
  }

  /** How many keys have a task running or waiting. */
  get size(): number {
    return this.#tails.size;
  }
}
