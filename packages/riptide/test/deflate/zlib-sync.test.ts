import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  createdZlibContexts,
  liveZlibContexts,
  Output,
  SyncZlib,
  syncZlibSupported,
  WriteResult,
  type ZlibConfig,
} from '../../src/deflate/zlib-sync.js';
import { hex } from './helpers.js';

const CONFIG: ZlibConfig = { windowBits: 15, level: -1, memLevel: 8, strategy: 0 };
const { Z_SYNC_FLUSH } = zlib.constants;

describe('synchronous zlib contexts', () => {
  it('this Node exposes the native handle API', () => {
    expect(syncZlibSupported()).toBe(true);
  });

  it('keeps its state between calls (what zlib streams do, synchronously)', () => {
    const d = new SyncZlib('deflate', CONFIG);
    const first = new Output(Number.POSITIVE_INFINITY, 16384);
    expect(d.write(Buffer.from('Hello'), first)).toBe(WriteResult.OK);
    const second = new Output(Number.POSITIVE_INFINITY, 16384);
    expect(d.write(Buffer.from('Hello'), second)).toBe(WriteResult.OK);
    expect(first.join().equals(hex('f2 48 cd c9 c9 07 00 00 00 ff ff'))).toBe(true);
    expect(second.join().equals(hex('f2 00 11 00 00 00 00 ff ff'))).toBe(true);
    d.close();
  });

  it('output in many small chunks joins to what zlib produces in one go', () => {
    const input = Buffer.from(Array.from({ length: 5000 }, (_, i) => `${i * 7919}`).join(','));
    const d = new SyncZlib('deflate', CONFIG);
    const out = new Output(Number.POSITIVE_INFINITY, 64);
    expect(d.write(input, out)).toBe(WriteResult.OK);
    expect(out.chunks.length).toBeGreaterThan(10);
    expect(out.chunks.every((c) => c.length <= 64)).toBe(true);
    // Block boundaries may differ from a one-shot run (zlib flushes when output space runs out),
    // so compare what it inflates to.
    expect(out.endsWith(hex('00 00 ff ff'))).toBe(true);
    const joined = out.join();
    expect(joined.length).toBe(out.total);
    expect(zlib.inflateRawSync(joined, { finishFlush: Z_SYNC_FLUSH }).equals(input)).toBe(true);
    expect(out.join(4).equals(joined.subarray(0, joined.length - 4))).toBe(true);
    d.close();
  });

  it('a contiguous output is one view of shared memory, grown as needed, reused by the next one', () => {
    // 40 KB that do not compress (xorshift32): more output than the initial 16 KiB scratch.
    const input = Buffer.alloc(40_000);
    for (let i = 0, x = 1; i < input.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      input[i] = x & 0xff;
    }
    const d = new SyncZlib('deflate', CONFIG);
    // 1 KiB per native call: zlib writes after what the buffer holds, many times, and it grows.
    const out = new Output(Number.POSITIVE_INFINITY, 1024, true);
    expect(d.write(input, out)).toBe(WriteResult.OK);
    expect(out.chunks).toHaveLength(0); // no copy per chunk
    expect(out.total).toBeGreaterThan(16 * 1024); // beyond the initial scratch
    expect(out.endsWith(hex('00 00 ff ff'))).toBe(true);
    const joined = out.join();
    expect(joined.length).toBe(out.total);
    expect(zlib.inflateRawSync(joined, { finishFlush: Z_SYNC_FLUSH }).equals(input)).toBe(true);
    expect(out.join(4).equals(joined.subarray(0, joined.length - 4))).toBe(true);
    const kept = Buffer.from(joined);
    // The next contiguous output writes over the same memory (hence: copy it before then).
    const next = new Output(Number.POSITIVE_INFINITY, 16384, true);
    expect(d.write(Buffer.from('something else'), next)).toBe(WriteResult.OK);
    expect(next.join().buffer).toBe(joined.buffer);
    expect(joined.equals(kept)).toBe(false);
    expect(next.endsWith(hex('00 00 ff ff'))).toBe(true);
    expect(next.endsWith(hex('01 00 00 ff ff'))).toBe(false);
    d.close();
  });

  it('stopAt suspends a write once that much output is out; the rest of the input continues it', () => {
    const original = Buffer.alloc(1 << 20, 'q');
    const compressed = zlib.deflateRawSync(original, { finishFlush: Z_SYNC_FLUSH });
    const inflater = new SyncZlib('inflate', CONFIG);
    const out = new Output(Number.POSITIVE_INFINITY, 16384);
    let input = compressed;
    let calls = 0;
    for (;;) {
      out.stopAt = out.total + 100_000;
      const before = out.total;
      const result = inflater.write(input, out);
      calls++;
      // zlib stops within one output chunk past the mark.
      expect(out.total - before).toBeLessThanOrEqual(100_000 + 16384);
      if (result === WriteResult.OK) break;
      expect(result).toBe(WriteResult.SUSPENDED);
      input = input.subarray(out.consumed);
    }
    expect(calls).toBeGreaterThanOrEqual(Math.floor(original.length / (100_000 + 16384)));
    expect(out.join().equals(original)).toBe(true);
    inflater.close();
  });

  it('Output.endsWith looks across chunk boundaries', () => {
    const out = new Output(100, 64);
    out.chunks = [hex('01 00'), hex('00'), hex('ff ff')];
    out.total = 5;
    expect(out.endsWith(hex('00 00 ff ff'))).toBe(true);
    expect(out.endsWith(hex('01 00 00 ff ff'))).toBe(true);
    expect(out.endsWith(hex('00 01 00 00 ff ff'))).toBe(false);
    expect(out.endsWith(hex('00 ff ff ff'))).toBe(false);
    expect(out.join(4).toString('hex')).toBe('01');
  });

  it('stops at the limit: never more than limit + 1 bytes are produced', () => {
    const bomb = zlib.deflateRawSync(Buffer.alloc(1 << 20), { finishFlush: Z_SYNC_FLUSH });
    for (const limit of [0, 1, 100, 16384, 16385, 100_000]) {
      const i = new SyncZlib('inflate', CONFIG);
      const out = new Output(limit, 16384);
      expect(i.write(bomb, out)).toBe(WriteResult.LIMIT);
      // Stopped as soon as the output crossed the limit, by exactly one byte.
      expect(out.total).toBe(limit + 1);
      expect(out.chunks.reduce((n, c) => n + c.length, 0)).toBeLessThanOrEqual(limit);
      i.close();
    }
    const i = new SyncZlib('inflate', CONFIG);
    const exact = new Output(1 << 20, 16384);
    expect(i.write(bomb, exact)).toBe(WriteResult.OK);
    expect(exact.total).toBe(1 << 20);
    i.close();
  });

  it('reports the end of a DEFLATE stream (BFINAL) with input left over', () => {
    const i = new SyncZlib('inflate', CONFIG);
    const out = new Output(Number.POSITIVE_INFINITY, 16384);
    expect(i.write(hex('f3 48 cd c9 c9 07 00 00 00 00 ff ff'), out)).toBe(WriteResult.ENDED);
    expect(out.join().toString()).toBe('Hello');
    i.reset();
    const again = new Output(Number.POSITIVE_INFINITY, 16384);
    expect(i.write(hex('f2 48 cd c9 c9 07 00 00 00 ff ff'), again)).toBe(WriteResult.OK);
    expect(again.join().toString()).toBe('Hello');
    i.close();
  });

  it('a zlib error closes the context, emits nothing asynchronously, and is counted', async () => {
    const live = liveZlibContexts();
    const created = createdZlibContexts();
    const i = new SyncZlib('inflate', CONFIG);
    expect(liveZlibContexts()).toBe(live + 1);
    expect(createdZlibContexts()).toBe(created + 1);
    expect(i.write(hex('ff ff ff'), new Output(Number.POSITIVE_INFINITY, 64))).toBe(WriteResult.ERROR);
    expect(i.lastError).toBe('invalid block type');
    expect(i.closed).toBe(true);
    expect(liveZlibContexts()).toBe(live);
    expect(() => i.write(hex('00'), new Output(10, 64))).toThrow('zlib context used after close');
    i.close();
    expect(liveZlibContexts()).toBe(live);
    // Node's own handler would destroy the stream and emit 'error' on a later tick.
    await new Promise((r) => setImmediate(r));
  });
});
