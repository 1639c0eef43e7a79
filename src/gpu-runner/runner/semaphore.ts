/** @module gpu-runner/runner/semaphore — a counting semaphore with FIFO waiters (the runner's job slots). */
export class Semaphore {
  #free: number;
  readonly #waiters: (() => void)[] = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`semaphore size must be an integer >= 1, got ${size}`);
    this.#free = size;
  }

  get free(): number {
    return this.#free;
  }

  /** Resolves with a release function once a unit is free; call it exactly once. */
  acquire(): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.#free--;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.#free++;
          this.#waiters.shift()?.();
        });
      };
      if (this.#free > 0) grant();
      else this.#waiters.push(grant);
    });
  }
}
