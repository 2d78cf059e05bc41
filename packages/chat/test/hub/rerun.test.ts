/**
 * Rerun (the presence resync's and the session recheck's driver): one run at a time, a failed run
 * retried on a bounded backoff and when the service is back, a newer request or close() ending a
 * pending retry. Fake setTimeout: the backoff is stepped, never waited for.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RETRY_DELAYS_MS, Rerun } from '../../src/server/hub/rerun.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A task whose results are scripted: each run takes the next one (true once they run out). */
function scripted(results: Array<boolean | Error>) {
  let runs = 0;
  const task = async () => {
    runs++;
    const result = results.shift() ?? true;
    if (result instanceof Error) throw result;
    return result;
  };
  return { task, runs: () => runs };
}

/** Lets the run started by a timer finish (its task and the bookkeeping after it are microtasks). */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('a run that could not read the store', () => {
  it('runs again after 1 s, 2 s, 4 s ... 30 s, then only when the service is back', async () => {
    const { task, runs } = scripted(Array(RETRY_DELAYS_MS.length + 1).fill(false));
    const rerun = new Rerun(task);
    await rerun.request();
    expect(runs()).toBe(1);
    for (const [i, delay] of RETRY_DELAYS_MS.entries()) {
      await vi.advanceTimersByTimeAsync(delay - 1);
      expect(runs()).toBe(i + 1);
      await vi.advanceTimersByTimeAsync(1);
      expect(runs()).toBe(i + 2);
    }
    // Bounded: no timer is left after the last retry failed.
    expect(rerun.retryScheduled).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(runs()).toBe(RETRY_DELAYS_MS.length + 1);
    rerun.serviceBack();
    await settle();
    expect(runs()).toBe(RETRY_DELAYS_MS.length + 2);
    // That one read everything: nothing is pending any more.
    expect(rerun.retryScheduled).toBe(false);
    rerun.serviceBack();
    await settle();
    expect(runs()).toBe(RETRY_DELAYS_MS.length + 2);
  });

  it('counts a task that throws as one that could not read', async () => {
    const { task, runs } = scripted([new Error('connection reset')]);
    const rerun = new Rerun(task);
    await expect(rerun.request()).resolves.toBeUndefined();
    expect(rerun.retryScheduled).toBe(true);
    await vi.advanceTimersByTimeAsync(RETRY_DELAYS_MS[0]);
    expect(runs()).toBe(2);
    expect(rerun.retryScheduled).toBe(false);
  });

  it('is superseded by a newer request: its timer goes, the backoff starts afresh', async () => {
    const { task, runs } = scripted([false, false, false]);
    const rerun = new Rerun(task);
    await rerun.request();
    await vi.advanceTimersByTimeAsync(RETRY_DELAYS_MS[0]); // second failure: next wait is 2 s
    expect(runs()).toBe(2);
    await rerun.request(); // third failure, from a newer request: the wait is 1 s again
    expect(runs()).toBe(3);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(RETRY_DELAYS_MS[0]);
    expect(runs()).toBe(4);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('stops at close(): the pending retry is cleared, and no run starts after it', async () => {
    const { task, runs } = scripted([false, false]);
    const rerun = new Rerun(task);
    await rerun.request();
    expect(vi.getTimerCount()).toBe(1);
    rerun.close();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(3_600_000);
    rerun.serviceBack();
    await rerun.request();
    expect(runs()).toBe(1);
  });

  it('closed during a run that fails, schedules nothing', async () => {
    let fail!: (ok: boolean) => void;
    const rerun = new Rerun(
      () =>
        new Promise<boolean>((resolve) => {
          fail = resolve;
        }),
    );
    const running = rerun.request();
    rerun.close();
    fail(false);
    await running;
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('one run at a time', () => {
  it('requests during a run make one more run after it, not one each, and never two at once', async () => {
    let active = 0;
    let most = 0;
    const gates: Array<() => void> = [];
    const rerun = new Rerun(async () => {
      active++;
      most = Math.max(most, active);
      await new Promise<void>((resolve) => gates.push(resolve));
      active--;
      return true;
    });
    const first = rerun.request();
    const second = rerun.request();
    const third = rerun.request();
    expect(gates).toHaveLength(1);
    gates[0]();
    await settle();
    expect(gates).toHaveLength(2);
    gates[1]();
    await Promise.all([first, second, third]);
    expect(gates).toHaveLength(2);
    expect(most).toBe(1);
  });
});
