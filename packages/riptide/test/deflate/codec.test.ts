import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolError, UsageError } from '../../src/core/errors.js';
import { clearZlibPool, PerMessageDeflate, pooledZlibContexts } from '../../src/deflate/codec.js';
import {
  type DeflateOptions,
  type DeflateParams,
  normalizeDeflateOptions,
  type PerMessageDeflateOptions,
} from '../../src/deflate/negotiation.js';
import { createdZlibContexts, liveZlibContexts } from '../../src/deflate/zlib-sync.js';
import { expectBytes, hex, toHex } from './helpers.js';

const DEFAULT_PARAMS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function options(extra: PerMessageDeflateOptions = {}): DeflateOptions {
  return normalizeDeflateOptions({ threshold: 0, ...extra }, 'server')!;
}

const codecs: PerMessageDeflate[] = [];

/** A server and a client codec for the same connection. */
function pair(params: Partial<DeflateParams> = {}, extra: PerMessageDeflateOptions = {}) {
  const p = { ...DEFAULT_PARAMS, ...params };
  const server = new PerMessageDeflate('server', p, options(extra));
  const client = new PerMessageDeflate('client', p, options(extra));
  codecs.push(server, client);
  return { server, client };
}

afterEach(() => {
  for (const codec of codecs.splice(0)) codec.close();
  clearZlibPool();
  expect(liveZlibContexts()).toBe(0);
});

function inflated(result: Buffer | ProtocolError | null): string {
  if (result instanceof ProtocolError) throw result;
  if (result === null) throw new Error('decompress() suspended without a budget');
  return result.toString();
}

/** Frame header of a single-frame compressed text message (FIN + RSV1 + text, short length). */
function textFrame(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([0xc1, payload.length]), payload]);
}

describe('RFC 7692 7.2.3.1 A message compressed using 1 compressed DEFLATE block', () => {
  it('test_server_sends_hello: "Hello" compresses to c1 07 f2 48 cd c9 c9 07 00', () => {
    const { server } = pair();
    const payload = server.compress(Buffer.from('Hello'), false)!;
    expect(toHex(textFrame(payload))).toBe('0xc1 0x07 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00');
  });

  it('test_client_sends_hello: the same bytes from the client side', () => {
    const { client } = pair();
    expect(toHex(client.compress(Buffer.from('Hello'), false)!)).toBe('0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00');
  });

  it('test_client_receives_hello: f2 48 cd c9 c9 07 00 decompresses to "Hello"', () => {
    const { client } = pair();
    expect(inflated(client.decompress(hex('f2 48 cd c9 c9 07 00'), true, 0))).toBe('Hello');
  });

  it('test_server_receives_hello_in_two_fragments (0x41 0x03 f2 48 cd / 0x80 0x04 c9 c9 07 00)', () => {
    const { server } = pair();
    const a = inflated(server.decompress(hex('f2 48 cd'), false, 0));
    const b = inflated(server.decompress(hex('c9 c9 07 00'), true, 0));
    expect(a + b).toBe('Hello');
  });

  it('test_server_receives_hello_one_byte_per_fragment', () => {
    const { server } = pair();
    const bytes = hex('f2 48 cd c9 c9 07 00');
    let text = '';
    for (let i = 0; i < bytes.length; i++) {
      text += inflated(server.decompress(bytes.subarray(i, i + 1), i === bytes.length - 1, 0));
    }
    expect(text).toBe('Hello');
    // Empty fragments (RFC 7692 7.2.3.6 allows them) change nothing.
    expect(inflated(server.decompress(Buffer.alloc(0), false, 0))).toBe('');
    expect(inflated(server.decompress(hex('f2 48 cd c9 c9 07 00'), false, 0))).toBe('Hello');
    expect(inflated(server.decompress(Buffer.alloc(0), true, 0))).toBe('');
  });
});

describe('RFC 7692 7.2.3.2 Sharing LZ77 sliding window', () => {
  it('test_server_sends_hello_twice_with_context_takeover: the second is f2 00 11 00 00', () => {
    const { server, client } = pair();
    const first = Buffer.from(server.compress(Buffer.from('Hello'), false)!);
    const second = server.compress(Buffer.from('Hello'), false)!;
    expect(toHex(textFrame(first))).toBe('0xc1 0x07 0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00');
    expect(toHex(textFrame(second))).toBe('0xc1 0x05 0xf2 0x00 0x11 0x00 0x00');
    expect(inflated(client.decompress(first, true, 0))).toBe('Hello');
    expect(inflated(client.decompress(second, true, 0))).toBe('Hello');
  });

  it('test_server_sends_hello_twice_without_context_takeover: both are f2 48 cd c9 c9 07 00', () => {
    const { server, client } = pair({ serverNoContextTakeover: true });
    const first = server.compress(Buffer.from('Hello'), false)!;
    const second = server.compress(Buffer.from('Hello'), false)!;
    expect(toHex(first)).toBe('0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00');
    expect(toHex(second)).toBe('0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00');
    expect(inflated(client.decompress(first, true, 0))).toBe('Hello');
    expect(inflated(client.decompress(second, true, 0))).toBe('Hello');
  });

  it('test_client_sends_hello_twice: client_no_context_takeover governs the client direction', () => {
    const takeover = pair({ serverNoContextTakeover: true });
    takeover.client.compress(Buffer.from('Hello'), false);
    expect(toHex(takeover.client.compress(Buffer.from('Hello'), false)!)).toBe('0xf2 0x00 0x11 0x00 0x00');
    const none = pair({ clientNoContextTakeover: true });
    none.client.compress(Buffer.from('Hello'), false);
    expect(toHex(none.client.compress(Buffer.from('Hello'), false)!)).toBe(
      '0xf2 0x48 0xcd 0xc9 0xc9 0x07 0x00',
    );
  });

  it('test_client_receives_back_reference_to_previous_message', () => {
    const { client } = pair();
    expect(inflated(client.decompress(hex('f2 48 cd c9 c9 07 00'), true, 0))).toBe('Hello');
    expect(inflated(client.decompress(hex('f2 00 11 00 00'), true, 0))).toBe('Hello');
  });

  it('test_client_receives_back_reference_without_context_takeover: invalid data (1007)', () => {
    // With server_no_context_takeover the client's window starts empty for every message, so a
    // reference to the previous message is "too far back".
    const { client } = pair({ serverNoContextTakeover: true });
    expect(inflated(client.decompress(hex('f2 48 cd c9 c9 07 00'), true, 0))).toBe('Hello');
    const err = client.decompress(hex('f2 00 11 00 00'), true, 0) as ProtocolError;
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.code).toBe('Z_DATA_ERROR');
    expect(err.closeCode).toBe(1007);
    // zlib's own error, as ws reports it.
    expect(err.message).toBe('invalid distance too far back');
    expect(err.errno).toBe(-3);
  });
});

describe('RFC 7692 7.2.3.3 Using a DEFLATE block with no compression', () => {
  it('test_client_receives 0xc1 0x0b 0x00 0x05 0x00 0xfa 0xff 0x48 0x65 0x6c 0x6c 0x6f 0x00', () => {
    const frame = hex('0xc1 0x0b 0x00 0x05 0x00 0xfa 0xff 0x48 0x65 0x6c 0x6c 0x6f 0x00');
    expect(frame[1]).toBe(frame.length - 2);
    const { client } = pair();
    expect(inflated(client.decompress(frame.subarray(2), true, 0))).toBe('Hello');
  });

  it('test_server_receives_the_stored_block_byte_by_byte', () => {
    const payload = hex('00 05 00 fa ff 48 65 6c 6c 6f 00');
    const { server } = pair();
    let text = '';
    for (let i = 0; i < payload.length; i++) {
      text += inflated(server.decompress(payload.subarray(i, i + 1), i === payload.length - 1, 0));
    }
    expect(text).toBe('Hello');
  });
});

describe('RFC 7692 7.2.3.4 Using a DEFLATE block with BFINAL set to 1', () => {
  it('test_client_receives f3 48 cd c9 c9 07 00 00, then more messages', () => {
    const { client } = pair();
    expect(inflated(client.decompress(hex('f3 48 cd c9 c9 07 00 00'), true, 0))).toBe('Hello');
    // The stream ended; the next message starts a new one (the inflater was reset).
    expect(inflated(client.decompress(hex('f2 48 cd c9 c9 07 00'), true, 0))).toBe('Hello');
    expect(inflated(client.decompress(hex('f2 00 11 00 00'), true, 0))).toBe('Hello');
  });

  it('test_server_receives_bytes_after_bfinal_in_later_fragments: ignored', () => {
    const { server } = pair({ clientNoContextTakeover: true });
    expect(inflated(server.decompress(hex('f3 48 cd c9 c9 07 00'), false, 0))).toBe('Hello');
    expect(inflated(server.decompress(hex('00'), false, 0))).toBe('');
    expect(inflated(server.decompress(hex('ff ff ff'), true, 0))).toBe('');
    expect(inflated(server.decompress(hex('f2 48 cd c9 c9 07 00'), true, 0))).toBe('Hello');
  });
});

describe('RFC 7692 7.2.3.5 Two DEFLATE blocks in one message', () => {
  it('test_client_receives f2 48 05 00 00 00 ff ff ca c9 c9 07 00', () => {
    const { client } = pair();
    expect(inflated(client.decompress(hex('f2 48 05 00 00 00 ff ff ca c9 c9 07 00'), true, 0))).toBe('Hello');
  });
});

describe('RFC 7692 7.2.3.6 Generating an empty fragment', () => {
  it('test_server_sends_empty_message: a single 0x00 byte, first or later', () => {
    const { server, client } = pair();
    expect(toHex(server.compress(Buffer.alloc(0), false)!)).toBe('0x00');
    server.compress(Buffer.from('Hello'), false);
    expect(toHex(server.compress(Buffer.alloc(0), false)!)).toBe('0x00');
    expect(inflated(client.decompress(hex('00'), true, 0))).toBe('');
  });

  it('test_client_receives_empty_payload_with_rsv1: an empty message; the context stays usable', () => {
    const { client } = pair();
    expect(inflated(client.decompress(Buffer.alloc(0), true, 0))).toBe('');
    expect(inflated(client.decompress(hex('f2 48 cd c9 c9 07 00'), true, 0))).toBe('Hello');
    expect(inflated(client.decompress(Buffer.alloc(0), false, 0))).toBe('');
    expect(inflated(client.decompress(Buffer.alloc(0), true, 0))).toBe('');
    expect(inflated(client.decompress(hex('f2 00 11 00 00'), true, 0))).toBe('Hello');
  });

  it('test_client_receives "He" + empty stored block + "llo" in three fragments', () => {
    const { client } = pair();
    const parts = ['f2 48 05 00', '00 00 ff ff', 'ca c9 c9 07 00'];
    const text = parts.map((p, i) => inflated(client.decompress(hex(p), i === parts.length - 1, 0))).join('');
    expect(text).toBe('Hello');
  });
});

describe('RFC 7692 7.2.1/7.2.2 round trips', () => {
  const sizes = [1, 100, 1023, 1024, 16 * 1024, 16 * 1024 + 1, 200_000];
  for (const [snct, cnct] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    it(`test_both_directions server_no_context_takeover=${snct} client_no_context_takeover=${cnct}`, () => {
      const { server, client } = pair(
        {
          serverNoContextTakeover: snct,
          clientNoContextTakeover: cnct,
          serverMaxWindowBits: 10,
          clientMaxWindowBits: 9,
        },
        {
          zlibDeflateOptions: { memLevel: 5, level: 9, chunkSize: 1024 },
          zlibInflateOptions: { chunkSize: 512 },
        },
      );
      for (const size of sizes) {
        const text = Buffer.from('chat message '.repeat(Math.ceil(size / 13)).slice(0, size));
        const random = randomBytes(size);
        for (const msg of [text, random, text]) {
          const down = server.compress(msg, false)!;
          expectBytes(client.decompress(down, true, 0), msg);
          const up = client.compress(msg, true)!;
          expectBytes(server.decompress(up, true, 0), msg);
        }
      }
    });
  }

  it('test_compressed_output_is_smaller_for_repetitive_text', () => {
    const { server } = pair();
    const msg = Buffer.from('{"type":"chat","text":"hello"}'.repeat(100));
    expect(server.compress(msg, false)!.length).toBeLessThan(msg.length / 10);
  });

  it('test_zlib_can_read_our_output (raw inflate of payload + tail)', () => {
    const { server } = pair();
    const msg = randomBytes(5000).toString('base64');
    const payload = server.compress(Buffer.from(msg), false)!;
    const out = zlib.inflateRawSync(Buffer.concat([payload, hex('00 00 ff ff')]), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    expect(out.toString()).toBe(msg);
  });
});

describe('threshold', () => {
  it('test_server_sends_below_threshold without context takeover: null (send uncompressed), no zlib context', () => {
    const params = { ...DEFAULT_PARAMS, serverNoContextTakeover: true };
    const server = new PerMessageDeflate('server', params, normalizeDeflateOptions(true, 'server')!);
    codecs.push(server);
    const before = createdZlibContexts();
    expect(server.compress(Buffer.alloc(1023, 97), false)).toBeNull();
    expect(createdZlibContexts()).toBe(before);
    expect(server.compress(Buffer.alloc(1024, 97), false)).not.toBeNull();
    expect(createdZlibContexts()).toBe(before + 1);
  });

  // ws 8 applies `threshold` only to a direction without context takeover (sender.js: the size is
  // compared only when params.<our side>_no_context_takeover is set): with context takeover every
  // message is compressed, however short, because it may refer to the earlier ones.
  for (const role of ['server', 'client'] as const) {
    it(`test_${role}_sends_below_threshold with context takeover: compressed, as ws 8 does`, () => {
      const codec = new PerMessageDeflate(role, DEFAULT_PARAMS, normalizeDeflateOptions(true, role)!);
      const peer = new PerMessageDeflate(role === 'server' ? 'client' : 'server', DEFAULT_PARAMS, options());
      codecs.push(codec, peer);
      const first = codec.compress(Buffer.from('{"tick":1,"price":100}'), false);
      expect(first).not.toBeNull();
      expect(inflated(peer.decompress(Buffer.from(first!), true, 0))).toBe('{"tick":1,"price":100}');
      expect(codec.hasContext('deflate')).toBe(true);
      // The second refers to the first: shorter than on its own.
      const second = codec.compress(Buffer.from('{"tick":2,"price":100}'), false);
      expect(second).not.toBeNull();
      expect(second!.length).toBeLessThan(first!.length);
      expect(inflated(peer.decompress(Buffer.from(second!), true, 0))).toBe('{"tick":2,"price":100}');
      // An empty message too (7.2.3.6: one 00 byte).
      expect(Buffer.from(codec.compress(Buffer.alloc(0), false)!)).toEqual(Buffer.from([0x00]));
    });
  }

  it('test_threshold_Infinity: nothing compressed without context takeover; with it, all (ws 8 takes the value)', () => {
    const opts = normalizeDeflateOptions(
      { threshold: Number.POSITIVE_INFINITY, concurrencyLimit: Infinity },
      'server',
    )!;
    const without = new PerMessageDeflate(
      'server',
      { ...DEFAULT_PARAMS, serverNoContextTakeover: true },
      opts,
    );
    const withTakeover = new PerMessageDeflate('server', DEFAULT_PARAMS, opts);
    codecs.push(without, withTakeover);
    expect(without.compress(Buffer.alloc(100_000, 97), false)).toBeNull();
    expect(withTakeover.compress(Buffer.alloc(100_000, 97), false)).not.toBeNull();
  });

  it('test_client_sends_below_threshold with client_no_context_takeover: uncompressed', () => {
    const params = { ...DEFAULT_PARAMS, clientNoContextTakeover: true };
    const client = new PerMessageDeflate('client', params, normalizeDeflateOptions(true, 'client')!);
    codecs.push(client);
    expect(client.compress(Buffer.alloc(1023, 97), false)).toBeNull();
    expect(client.compress(Buffer.alloc(1024, 97), false)).not.toBeNull();
  });
});

describe('lazy allocation and the process-wide pool', () => {
  it('test_no_zlib_context_until_first_compressed_message_per_direction', () => {
    const before = createdZlibContexts();
    const { server, client } = pair();
    expect(createdZlibContexts()).toBe(before);
    expect(server.hasContext('deflate')).toBe(false);
    expect(server.hasContext('inflate')).toBe(false);
    const payload = server.compress(Buffer.from('Hello'), false)!;
    expect(createdZlibContexts()).toBe(before + 1);
    expect(server.hasContext('inflate')).toBe(false);
    client.decompress(payload, true, 0);
    expect(createdZlibContexts()).toBe(before + 2);
    expect(client.hasContext('deflate')).toBe(false);
    expect(client.hasContext('inflate')).toBe(true);
  });

  it('test_10000_connections_without_context_takeover_share_a_handful_of_contexts', () => {
    const opts = options();
    const params = { ...DEFAULT_PARAMS, serverNoContextTakeover: true, clientNoContextTakeover: true };
    const servers = Array.from({ length: 10_000 }, () => new PerMessageDeflate('server', params, opts));
    codecs.push(...servers);
    const before = createdZlibContexts();
    const msg = Buffer.from('hello everyone, this is a chat message');
    const payload = servers[0].compress(msg, false)!;
    let mismatches = 0;
    for (const s of servers) {
      if (!s.compress(msg, false)!.equals(payload)) mismatches++;
      if (!(s.decompress(payload, true, 0) as Buffer).equals(msg)) mismatches++;
    }
    expect(mismatches).toBe(0);
    // One deflater and one inflater serve all 10,000 (each message is handled in one call).
    expect(createdZlibContexts() - before).toBe(2);
    expect(liveZlibContexts()).toBe(2);
    expect(pooledZlibContexts()).toBe(2);
    for (const s of servers) {
      expect(s.hasContext('deflate')).toBe(false);
      expect(s.hasContext('inflate')).toBe(false);
    }
  });

  it('test_fragmented_messages_in_flight_hold_pooled_inflaters_until_fin', () => {
    const params = { ...DEFAULT_PARAMS, clientNoContextTakeover: true };
    const opts = options({ concurrencyLimit: 3 });
    const servers = Array.from({ length: 5 }, () => new PerMessageDeflate('server', params, opts));
    codecs.push(...servers);
    const payload = hex('f2 48 cd c9 c9 07 00');
    for (const s of servers) inflated(s.decompress(payload.subarray(0, 3), false, 0));
    expect(liveZlibContexts()).toBe(5);
    for (const s of servers) expect(inflated(s.decompress(payload.subarray(3), true, 0))).toBe('llo');
    // Released at fin; only concurrencyLimit idle ones are kept.
    expect(pooledZlibContexts()).toBe(3);
    expect(liveZlibContexts()).toBe(3);
  });

  it('test_context_takeover_contexts_are_per_connection_and_freed_by_close', () => {
    const before = liveZlibContexts();
    const { server, client } = pair();
    const payload = server.compress(Buffer.from('Hello'), false)!;
    client.decompress(payload, true, 0);
    expect(liveZlibContexts()).toBe(before + 2);
    server.close();
    client.close();
    expect(liveZlibContexts()).toBe(before);
    expect(() => server.compress(Buffer.from('x'), false)).toThrow(UsageError);
    expect(() => client.decompress(payload, true, 0)).toThrow('permessage-deflate used after close()');
    server.close(); // idempotent
  });

  it('test_close_in_the_middle_of_a_message_returns_the_pooled_inflater', () => {
    const { server } = pair({ clientNoContextTakeover: true });
    inflated(server.decompress(hex('f2 48'), false, 0));
    expect(server.hasContext('inflate')).toBe(true);
    server.close();
    expect(pooledZlibContexts()).toBe(1);
  });
});

describe('RFC 6455 10.4 maxPayload applies to the decompressed size, while inflating', () => {
  /** A DEFLATE stream that inflates to `mib` MiB of zeros: one sync-flushed 1 MiB section, repeated. */
  function bomb(mib: number): Buffer {
    const section = zlib.deflateRawSync(Buffer.alloc(1 << 20), {
      level: 9,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    // Each section is byte-aligned and non-final, so any number of them is one valid stream.
    const two = zlib.inflateRawSync(Buffer.concat([section, section]), {
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
    });
    expect(two.length).toBe(2 << 20);
    return Buffer.concat(Array.from({ length: mib }, () => section));
  }

  it('test_server_receives_1MB_frame_inflating_to_1GB: fails at the limit with bounded memory', () => {
    const payload = bomb(1024);
    expect(payload.length).toBeLessThan(1.5 * 1024 * 1024);
    const { server } = pair();
    const limit = 8 * 1024 * 1024;
    const before = process.memoryUsage();
    const result = server.decompress(payload, true, limit);
    const after = process.memoryUsage();
    expect(result).toBeInstanceOf(ProtocolError);
    expect((result as ProtocolError).code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    expect((result as ProtocolError).closeCode).toBe(1009);
    // At most the limit plus one chunk was ever allocated (garbage included); 1 GB would show.
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(limit + 2 * 1024 * 1024);
    expect(after.rss - before.rss).toBeLessThan(256 * 1024 * 1024);
    expect(server.hasContext('inflate')).toBe(false);
  });

  it('test_server_receives_bomb_in_many_frames: the limit is per MESSAGE, not per frame', () => {
    const payload = bomb(16);
    const { server } = pair();
    const limit = 3 * 1024 * 1024;
    const step = payload.length / 16;
    let total = 0;
    let error: ProtocolError | null = null;
    for (let i = 0; i < 16 && error === null; i++) {
      const r = server.decompress(payload.subarray(i * step, (i + 1) * step), i === 15, limit);
      if (r instanceof ProtocolError) error = r;
      else total += r!.length;
    }
    expect(error?.code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    expect(total).toBeLessThanOrEqual(limit);
  });

  it('test_message_of_exactly_the_limit_passes_and_one_more_byte_fails', () => {
    const { server, client } = pair({ serverNoContextTakeover: true });
    const msg = randomBytes(70_000);
    const payload = server.compress(msg, true)!;
    expectBytes(client.decompress(payload, true, msg.length), msg);
    const tooBig = server.compress(Buffer.concat([msg, Buffer.from([1])]), true)!;
    const err = client.decompress(tooBig, true, msg.length) as ProtocolError;
    expect(err.code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    expect(err.message).toBe('Max payload size exceeded');
    expect(err).toBeInstanceOf(RangeError);
  });

  it('test_limit_resets_between_messages', () => {
    const { server, client } = pair();
    const msg = Buffer.alloc(1000, 120);
    for (let i = 0; i < 5; i++) expectBytes(client.decompress(server.compress(msg, false)!, true, 1000), msg);
  });
});

describe('RFC 7692 7.2.2 invalid compressed data', () => {
  it('test_server_receives_garbage: 1007 with zlib detail, and a fresh context afterwards', () => {
    const { server } = pair();
    const err = server.decompress(hex('ff ff ff ff'), true, 0) as ProtocolError;
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.code).toBe('Z_DATA_ERROR');
    expect(err.message).toBe('invalid block type');
    expect(err.errno).toBe(-3);
    expect(server.hasContext('inflate')).toBe(false);
    expect(inflated(server.decompress(hex('f2 48 cd c9 c9 07 00'), true, 0))).toBe('Hello');
  });

  it('test_inflate_path_property: arbitrary payloads and splits give data or documented errors, never a throw', () => {
    const { server: reference } = pair();
    const valid = [
      hex('f2 48 cd c9 c9 07 00'),
      hex('00 05 00 fa ff 48 65 6c 6c 6f 00'),
      reference.compress(Buffer.from('x'.repeat(3000)), false)!,
    ];
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 64 }),
            fc.constantFrom(...valid).map((b) => new Uint8Array(b)),
            fc
              .constantFrom(...valid)
              .chain((b) => fc.nat(b.length).map((n) => new Uint8Array(b.subarray(0, n)))),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        fc.boolean(),
        fc.constantFrom(0, 1, 100, 5000),
        (frames, takeover, limit) => {
          const codec = new PerMessageDeflate(
            'server',
            { ...DEFAULT_PARAMS, clientNoContextTakeover: !takeover },
            options(),
          );
          try {
            for (let i = 0; i < frames.length; i++) {
              const r = codec.decompress(Buffer.from(frames[i]), i === frames.length - 1, limit);
              if (r instanceof ProtocolError) {
                // zlib's data errors (Z_DATA_ERROR, Z_BUF_ERROR ...) or the size limit.
                expect(
                  r.violation === 'WS_ERR_INVALID_COMPRESSED_DATA' ||
                    r.violation === 'WS_ERR_MESSAGE_TOO_BIG',
                ).toBe(true);
                expect(r.code).toMatch(/^Z_[A-Z_]+$|^WS_ERR_UNSUPPORTED_MESSAGE_LENGTH$/);
                break;
              }
              expect(Buffer.isBuffer(r)).toBe(true);
              if (limit > 0) expect((r as Buffer).length).toBeLessThanOrEqual(limit);
            }
          } finally {
            codec.close();
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('test_round_trip_property: any message, any split into frames, any parameters', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.integer({ min: 8, max: 15 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (messages, noTakeover, bits, cuts) => {
          const { server, client } = pair({
            serverNoContextTakeover: noTakeover,
            serverMaxWindowBits: bits,
          });
          for (const m of messages) {
            const msg = Buffer.from(m);
            const payload = server.compress(msg, true)!;
            const points = [...new Set(cuts.map((c) => c % (payload.length + 1)))].sort((a, b) => a - b);
            const pieces: Buffer[] = [];
            let prev = 0;
            for (const p of [...points, payload.length]) {
              pieces.push(payload.subarray(prev, p));
              prev = p;
            }
            const out = pieces.map(
              (piece, i) => client.decompress(piece, i === pieces.length - 1, 0) as Buffer,
            );
            expectBytes(Buffer.concat(out), msg);
          }
          server.close();
          client.close();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('an inflate budget: bounded slices of zlib work (issue 12, hole 6)', () => {
  const BUDGET = 256 * 1024;
  const CHUNK = 16 * 1024; // the default inflate chunkSize: zlib stops within one chunk of the budget

  /** Inflates `payload` with `budget` per call; returns the result and each call's output. */
  function sliced(codec: PerMessageDeflate, payload: Buffer, fin = true, limit = 0) {
    let result = codec.decompress(payload, fin, limit, BUDGET);
    const slices = [codec.inflated];
    while (result === null) {
      result = codec.resumeDecompress(BUDGET);
      slices.push(codec.inflated);
    }
    return { result, slices };
  }

  it('test_server_receives_a_frame_inflating_to_8_MiB_in_slices_of_the_budget', () => {
    const { server, client } = pair();
    const message = Buffer.alloc(8 * 1024 * 1024, 'a');
    const { result, slices } = sliced(server, client.compress(message, false)!);
    expectBytes(result, message);
    expect(slices.length).toBeGreaterThanOrEqual(message.length / (BUDGET + CHUNK));
    for (const n of slices) expect(n).toBeLessThanOrEqual(BUDGET + CHUNK);
    expect(slices.reduce((a, b) => a + b)).toBe(message.length);
  });

  it('test_suspended_frames_keep_the_context: later messages (context takeover) still inflate', () => {
    const { server, client } = pair();
    for (const size of [1 << 20, 3 << 20, 100, 2 << 20]) {
      const message = Buffer.alloc(size, size & 0xff);
      expectBytes(sliced(server, client.compress(message, false)!).result, message);
    }
    expectBytes(
      server.decompress(client.compress(Buffer.from('small'), false)!, true, 0, BUDGET),
      Buffer.from('small'),
    );
  });

  it('test_suspended_fragmented_message: slices across frames, then the tail', () => {
    const { server, client } = pair();
    const message = Buffer.alloc(2 << 20, 'z');
    const payload = client.compress(message, false)!;
    const half = payload.length >> 1;
    const first = sliced(server, payload.subarray(0, half), false);
    const second = sliced(server, payload.subarray(half), true);
    expectBytes(Buffer.concat([first.result as Buffer, second.result as Buffer]), message);
    for (const n of [...first.slices, ...second.slices]) expect(n).toBeLessThanOrEqual(BUDGET + CHUNK);
  });

  it('test_the_limit_still_applies_across_slices: 1009', () => {
    const { server, client } = pair();
    const { result } = sliced(server, client.compress(Buffer.alloc(4 << 20), false)!, true, 3 << 20);
    expect((result as ProtocolError).code).toBe('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    expect(server.hasContext('inflate')).toBe(false);
  });

  it('test_decompress_while_suspended_is_misuse; close() frees a suspended context', () => {
    const { server, client } = pair();
    const payload = client.compress(Buffer.alloc(1 << 20), false)!;
    expect(server.decompress(payload, true, 0, BUDGET)).toBeNull();
    expect(() => server.decompress(payload, true, 0, BUDGET)).toThrow(
      expect.objectContaining({ code: 'WS_ERR_EXTENSION_BUSY' }),
    );
    const live = liveZlibContexts();
    server.close();
    expect(liveZlibContexts()).toBe(live - 1);
    expect(() => server.resumeDecompress(BUDGET)).toThrow(UsageError);
  });
});

describe('sliced compression of a large message (compressFirst / compressNext)', () => {
  const SLICE = 256 * 1024;
  /** 1.3 MiB of compressible text: five slices and a part. */
  const big = Buffer.from('{"user":"ada","text":"a large, repetitive, compressible message"}'.repeat(21000));

  /** Compresses `data` in slices with `codec`; returns the slices' outputs. */
  function slices(codec: PerMessageDeflate, data: Buffer): Buffer[] {
    // Copies: each result is valid only until the next compress call (as the frame copies it).
    const out = [Buffer.from(codec.compressFirst(data, true, SLICE)!)];
    while (codec.compressLeft > 0) out.push(Buffer.from(codec.compressNext(SLICE)!));
    return out;
  }

  for (const takeover of [true, false]) {
    it(`test_sliced_message_inflates_to_the_input_and_the_next_message_too (context takeover ${takeover ? 'on' : 'off'})`, () => {
      const { server, client } = pair({ serverNoContextTakeover: !takeover });
      const parts = slices(server, big);
      expect(parts.length).toBe(Math.ceil(big.length / SLICE));
      // Every slice but the last ends with a sync flush (00 00 ff ff); the last has it removed.
      for (const part of parts.slice(0, -1)) expect(toHex(part.subarray(-4))).toBe('0x00 0x00 0xff 0xff');
      expect(toHex(parts[parts.length - 1].subarray(-4))).not.toBe('0x00 0x00 0xff 0xff');
      // The peer inflates it frame by frame, as the fragments of one message.
      const inflatedParts = parts.map(
        (part, i) => client.decompress(part, i === parts.length - 1, 0) as Buffer,
      );
      expectBytes(Buffer.concat(inflatedParts), big);
      // The window (takeover) or a fresh stream (no takeover) is consistent for the next message.
      const next = server.compress(Buffer.from('the next message'), false)!;
      expect(inflated(client.decompress(next, true, 0))).toBe('the next message');
      expect(server.hasContext('deflate')).toBe(takeover);
    });
  }

  it('test_sliced_message_borrows_a_pooled_deflater_for_its_whole_duration', () => {
    const a = pair({ serverNoContextTakeover: true });
    const b = pair({ serverNoContextTakeover: true });
    // A small message leaves one deflater in the pool.
    b.server.compress(Buffer.from('warm the pool'), false);
    expect(pooledZlibContexts()).toBe(1);
    const first = Buffer.from(a.server.compressFirst(big, true, SLICE)!);
    expect(pooledZlibContexts()).toBe(0); // borrowed by a
    expect(a.server.hasContext('deflate')).toBe(false); // not the connection's own
    // Meanwhile b compresses with another deflater (the borrowed one is not shared mid-stream).
    const created = createdZlibContexts();
    const small = b.server.compress(Buffer.from('from b, meanwhile'), false)!;
    expect(createdZlibContexts()).toBe(created + 1);
    expect(pooledZlibContexts()).toBe(1); // b's new deflater, released
    expect(inflated(b.client.decompress(small, true, 0))).toBe('from b, meanwhile');
    expect(pooledZlibContexts()).toBe(2); // and b's client's pooled inflater
    const parts = [first];
    while (a.server.compressLeft > 0) parts.push(Buffer.from(a.server.compressNext(SLICE)!));
    expect(pooledZlibContexts()).toBe(3); // a's deflater is back, reset
    const out = parts.map((part, i) => a.client.decompress(part, i === parts.length - 1, 0) as Buffer);
    expectBytes(Buffer.concat(out), big);
  });

  it('test_cancelled_sliced_message_releases_its_context (pooled: back to the pool; own: freed)', () => {
    const pooled = pair({ serverNoContextTakeover: true });
    pooled.server.compressFirst(big, true, SLICE);
    expect(pooledZlibContexts()).toBe(0);
    pooled.server.cancelCompress();
    expect(pooled.server.compressLeft).toBe(0);
    expect(pooledZlibContexts()).toBe(1);
    const own = pair();
    const live = liveZlibContexts();
    own.server.compressFirst(big, true, SLICE);
    expect(liveZlibContexts()).toBe(live + 1);
    own.server.close(); // closing the codec mid-message frees it too
    expect(liveZlibContexts()).toBe(live);
    expect(own.server.compressLeft).toBe(0);
  });

  it('test_whole_message_compress_during_a_sliced_one_is_refused', () => {
    const { server } = pair();
    server.compressFirst(big, true, SLICE);
    expect(() => server.compress(Buffer.from('x'), false)).toThrow(UsageError);
    expect(() => server.compressFirst(big, true, SLICE)).toThrow(UsageError);
    server.cancelCompress();
    expect(() => server.compressNext(SLICE)).toThrow(UsageError);
  });

  it('test_sliced_message_below_threshold_is_sent_uncompressed (without context takeover)', () => {
    const p = { ...DEFAULT_PARAMS, serverNoContextTakeover: true };
    const server = new PerMessageDeflate(
      'server',
      p,
      normalizeDeflateOptions({ threshold: 2 * big.length }, 'server')!,
    );
    codecs.push(server);
    expect(server.compressFirst(big, true, SLICE)).toBeNull();
    expect(server.compressLeft).toBe(0);
    expect(server.hasContext('deflate')).toBe(false);
  });
});
