/**
 * Progressive edits of one message while an answer streams in: at most one
 * edit every `intervalMs`, one edit in flight at a time, the newest text
 * wins, and a last edit with the final text.
 */

export interface EditClock {
  now(): number;
  /** Runs fn after ms; returns a function that cancels it. */
  schedule(fn: () => void, ms: number): () => void;
}

export class ProgressiveEditor {
  readonly #edit: (text: string) => Promise<unknown>;
  readonly #intervalMs: number;
  readonly #clock: EditClock;
  readonly #onError: (err: unknown) => void;
  #lastEditAt: number;
  #lastSent: string | null = null;
  #latest: string | null = null;
  #inFlight: Promise<void> | null = null;
  #cancelTimer: (() => void) | null = null;
  #finished = false;
  /** How many edits were sent (progressive and final). */
  edits = 0;

  /**
   * @param edit sends one edit of the message
   * @param onError a failed progressive edit is reported here and the stream goes on
   */
  constructor(edit: (text: string) => Promise<unknown>, intervalMs: number, clock: EditClock, onError: (err: unknown) => void) {
    this.#edit = edit;
    this.#intervalMs = intervalMs;
    this.#clock = clock;
    this.#onError = onError;
    // The message itself was just sent: the first edit waits one interval too.
    this.#lastEditAt = clock.now();
  }

  /** The text so far; shown at the next allowed moment. */
  update(text: string): void {
    if (this.#finished) return;
    this.#latest = text;
    this.#pump();
  }

  #pump(): void {
    if (this.#finished || this.#inFlight || this.#cancelTimer || this.#latest === null || this.#latest === this.#lastSent) return;
    const wait = this.#lastEditAt + this.#intervalMs - this.#clock.now();
    if (wait > 0) {
      this.#cancelTimer = this.#clock.schedule(() => {
        this.#cancelTimer = null;
        this.#pump();
      }, wait);
      return;
    }
    const text = this.#latest;
    this.#lastEditAt = this.#clock.now();
    this.#inFlight = this.#send(text)
      .catch(this.#onError)
      .finally(() => {
        this.#inFlight = null;
        this.#pump();
      });
  }

  async #send(text: string): Promise<void> {
    this.edits++;
    await this.#edit(text);
    this.#lastSent = text;
  }

  /** Stops progressive edits and makes the message show `text` (unless it already does). */
  async finish(text: string): Promise<void> {
    this.#finished = true;
    this.#cancelTimer?.();
    this.#cancelTimer = null;
    if (this.#inFlight) await this.#inFlight;
    if (text !== this.#lastSent) await this.#send(text);
  }
}
