/**
 * Taking turns with the event loop when many servers start at once.
 *
 * Starting a server is a few microseconds of synchronous work per step (lstat, open,
 * flock, a libuv handle), but a thousand `start()` calls made together resume their steps
 * in the same macrotask and held the loop for hundreds of milliseconds in the bench. Each
 * step first asks for a turn: within a few milliseconds of the current slice it goes on
 * at once; past that it waits, and waiting steps are let go one per loop iteration, so
 * timers and I/O run in between.
 * @module
 */
import { performance } from 'node:perf_hooks';

/** How long one slice of start-up work may hold the event loop. */
const SLICE_MS = 4;
/**
 * How many turns one slice grants at once. A turn granted is taken later, when the caller's
 * `await` resumes: a thousand `start()` calls made in one loop were all granted within the
 * slice's first millisecond and then all ran in one microtask checkpoint, holding the loop for
 * as long as a thousand steps take (issue 14). The clock cannot see work that has not run yet,
 * so the count bounds it.
 */
const GRANTS_PER_SLICE = 8;

let sliceStart = -1;
let granted = 0;
let releasing = false;
const waiting: Array<() => void> = [];

function endSlice(): void {
  sliceStart = -1;
}

function beginSlice(now: number): void {
  sliceStart = now;
  granted = 0;
  setImmediate(endSlice);
}

function release(): void {
  releasing = false;
  const next = waiting.shift();
  if (next === undefined) return;
  beginSlice(performance.now());
  next();
  if (waiting.length > 0) scheduleRelease();
}

function scheduleRelease(): void {
  if (releasing) return;
  releasing = true;
  // Scheduled from a check-phase callback, this runs in the next loop iteration: after I/O.
  setImmediate(release);
}

/** Resolves at once while the current slice has time left, else when it is this caller's turn. */
export function takeTurn(): Promise<void> | undefined {
  const now = performance.now();
  if (sliceStart < 0) beginSlice(now);
  if (waiting.length === 0 && now - sliceStart <= SLICE_MS && granted < GRANTS_PER_SLICE) {
    granted++;
    return undefined;
  }
  return new Promise<void>((resolve) => {
    waiting.push(resolve);
    scheduleRelease();
  });
}
