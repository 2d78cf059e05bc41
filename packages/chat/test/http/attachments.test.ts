/**
 * Attachments over HTTP against a live server (SQLite): who may upload and download, the headers
 * that keep a served file from acting as a page, the size cap, the type sniffed from the bytes,
 * and a send that carries the files (and the files that go with a deleted message).
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/server/clock.js';
import { cleanName, MAX_UPLOADS_IN_FLIGHT } from '../../src/server/http/attachments.js';
import type { Attachment } from '../../src/shared/protocol.js';
import { HTML_PAYLOAD, png, SVG_PAYLOAD } from '../attachments/files.js';
import { holdDeleteRoom, holdDropRoom } from '../attachments/hold-drop-room.js';
import { cleanup, register, startTestServer, TestClient, type TestServer } from '../helpers.js';

afterEach(cleanup);

interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
  json: () => Record<string, unknown>;
}

async function call(url: string, init: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, body, json: () => JSON.parse(body.toString()) };
}

function upload(
  server: TestServer,
  cookie: string,
  data: Buffer,
  options: { room?: string; name?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const query = new URLSearchParams({ room: options.room ?? 'general', name: options.name ?? 'file.bin' });
  return call(`${server.origin}/api/attachments?${query}`, {
    method: 'POST',
    headers: {
      cookie,
      origin: server.origin,
      'content-type': 'application/octet-stream',
      ...options.headers,
    },
    body: data,
  });
}

/**
 * An upload of 20 bytes of which 10 are sent, once the server has invited its body (100 Continue:
 * it passed every check and is counted in flight); `status` resolves with its answer.
 */
async function holdUpload(server: TestServer, cookie: string) {
  const req = request(`${server.origin}/api/attachments?room=general&name=held`, {
    method: 'POST',
    headers: {
      cookie,
      origin: server.origin,
      'content-type': 'application/octet-stream',
      'content-length': '20',
      expect: '100-continue',
    },
  });
  const status = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
  });
  await new Promise<void>((resolve, reject) => {
    req.once('continue', resolve);
    req.once('response', (res) => reject(new Error(`refused: ${res.statusCode}`)));
  });
  req.write(Buffer.alloc(10, 0x61));
  return { req, status };
}

function download(server: TestServer, cookie: string, id: string, headers: Record<string, string> = {}) {
  return call(`${server.origin}/api/attachments/${id}`, { headers: { cookie, ...headers } });
}

async function setUp(options: Parameters<typeof startTestServer>[0] = {}) {
  const server = await startTestServer(options);
  const alice = await register(server.origin, 'alice');
  const bob = await register(server.origin, 'bob');
  const eve = await register(server.origin, 'eve');
  const aliceWs = (await TestClient.join(server.origin, alice)).client;
  const bobWs = (await TestClient.join(server.origin, bob)).client;
  // A private room of alice and bob: eve is not in it.
  await aliceWs.request('joined', { type: 'create', room: 'team', private: true });
  await aliceWs.request('invited', { type: 'invite', room: 'team', user: 'bob' });
  await bobWs.request('joined', { type: 'accept', room: 'team' });
  return { server, alice, bob, eve, aliceWs, bobWs };
}

async function sendWith(ws: TestClient, room: string, id: string, files: string[], text = '') {
  return ws.request('ack', { type: 'send', id, room, text, attachments: files });
}

describe('uploading', () => {
  it('answers 201 with the type sniffed from the bytes, whatever the name says', async () => {
    const { server, alice } = await setUp();
    const image = await upload(server, alice, png(3, 2), { room: 'team', name: 'notes.txt' });
    expect(image.status).toBe(201);
    expect(image.json()).toEqual({
      id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      name: 'notes.txt',
      type: 'image/png',
      size: png(3, 2).length,
      width: 3,
      height: 2,
    });
    const page = await upload(server, alice, Buffer.from(HTML_PAYLOAD), {
      room: 'team',
      name: '../../evil.png',
    });
    expect(page.json()).toMatchObject({ name: 'evil.png', type: 'text/plain', size: HTML_PAYLOAD.length });
    const spoof = await upload(server, alice, Buffer.from('x'), { name: 'photo\u202egnp.exe' });
    expect(spoof.json()).toMatchObject({ name: 'photognp.exe' });
  });

  it('names a file whose name shows nothing (invisible characters only) "file", as an empty one', () => {
    // Regression: a name of zero-width characters was kept, and the page drew its link with no
    // visible name (and none for a screen reader). Such characters inside a name stay.
    expect(cleanName('\u200b')).toBe('file');
    expect(cleanName('dir/\u200b\u2060\ufeff \u00ad')).toBe('file');
    expect(cleanName('')).toBe('file');
    expect(cleanName('..')).toBe('file');
    expect(cleanName('\u{1F469}\u200d\u{1F4BB}.png')).toBe('\u{1F469}\u200d\u{1F4BB}.png');
  });

  it('refuses no session (401), another origin (403), another content type (415), a room one is not in (403)', async () => {
    const { server, alice, eve } = await setUp();
    expect((await upload(server, '', png(1, 1))).status).toBe(401);
    const foreign = await upload(server, alice, png(1, 1), { headers: { origin: 'https://evil.example' } });
    expect([foreign.status, foreign.json().error]).toEqual([403, 'bad_origin']);
    const form = await upload(server, alice, png(1, 1), {
      headers: { 'content-type': 'multipart/form-data' },
    });
    expect([form.status, form.json().error]).toEqual([415, 'bad_content_type']);
    const outsider = await upload(server, eve, png(1, 1), { room: 'team' });
    expect([outsider.status, outsider.json().error]).toEqual([403, 'not_member']);
    const bad = await upload(server, alice, png(1, 1), { room: 'Not a room' });
    expect(bad.status).toBe(400);
    expect((await upload(server, alice, Buffer.alloc(0))).status).toBe(400);
  });

  it('takes application/octet-stream in any case and with parameters; refuses every other type (415)', async () => {
    // Regression: only the exact string was taken, so `Application/Octet-Stream` or
    // `application/octet-stream; charset=binary` (as some clients send) was refused 415.
    const { server, alice } = await setUp();
    for (const type of [
      'Application/Octet-Stream',
      'APPLICATION/OCTET-STREAM',
      'application/octet-stream; charset=binary',
      'application/octet-stream ;name="a.bin"',
    ]) {
      const taken = await upload(server, alice, png(1, 1), { headers: { 'content-type': type } });
      expect([type, taken.status]).toEqual([type, 201]);
    }
    for (const type of [
      'application/octet-streams',
      'application/octet-stream-evil',
      'application/octet',
      'text/plain; charset=application/octet-stream',
      'image/png',
      '',
    ]) {
      const refused = await upload(server, alice, png(1, 1), { headers: { 'content-type': type } });
      expect([type, refused.status, refused.json().error]).toEqual([type, 415, 'bad_content_type']);
    }
  });

  it('refuses a file above the cap, by its Content-Length or while reading a body without one', async () => {
    const { server, alice } = await setUp({ attachments: { maxBytes: 1000 } });
    expect((await upload(server, alice, Buffer.alloc(1000, 0x61))).status).toBe(201);
    const declared = await upload(server, alice, Buffer.alloc(1001, 0x61));
    expect([declared.status, declared.json()]).toEqual([
      413,
      { error: 'too_large', message: 'files are at most 1000 bytes', maxBytes: 1000 },
    ]);
    // Chunked: no Content-Length, so the cap is applied while reading.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.origin}/api/attachments?room=general&name=big`, {
        method: 'POST',
        headers: { cookie: alice, origin: server.origin, 'content-type': 'application/octet-stream' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(Buffer.alloc(600, 0x61));
      req.write(Buffer.alloc(600, 0x61));
      req.end();
    });
    expect(status).toBe(413);
  });

  it('takes a message’s worth of uploads at once per user: more are refused (429) before their bodies are read', async () => {
    // Each upload in flight holds its bytes until its body ends. The cap is checked before a body
    // is invited: an eleventh upload is refused while ten are held, without a token of the user's
    // message rate (and so it could be tried again at once). Before the cap, one account could hold
    // as many bodies as its tokens allowed over the request deadline (some 360 of 5 MiB).
    const { server, alice, bob } = await setUp({ limits: { messageRate: { burst: 100, perSecond: 1 } } });
    const held = [];
    for (let i = 0; i < MAX_UPLOADS_IN_FLIGHT; i++) held.push(await holdUpload(server, alice));
    const refused = await upload(server, alice, png(1, 1));
    expect([refused.status, refused.json().error]).toEqual([429, 'too_many_uploads']);
    // Another user's uploads are theirs to count.
    expect((await upload(server, bob, png(1, 1))).status).toBe(201);
    // One finished: its place is free (its answer is given once the store has it).
    held[0].req.end(Buffer.alloc(10, 0x61));
    expect(await held[0].status).toBe(201);
    expect((await upload(server, alice, png(1, 1))).status).toBe(201);
    // The others given up by the client: their places free as the server sees them go.
    for (const h of held.slice(1)) h.req.destroy();
    let again = await upload(server, alice, png(1, 1));
    while (again.status === 429 && again.json().error === 'too_many_uploads')
      again = await upload(server, alice, png(1, 1));
    expect(again.status).toBe(201);
    const all = [];
    for (let i = 0; i < MAX_UPLOADS_IN_FLIGHT; i++) all.push(await holdUpload(server, alice));
    for (const h of all) h.req.end(Buffer.alloc(10, 0x61));
    expect(await Promise.all(all.map((h) => h.status))).toEqual(Array(MAX_UPLOADS_IN_FLIGHT).fill(201));
  });

  it('holds a bounded number of unsent uploads per user', async () => {
    const { server, alice } = await setUp({ attachments: { maxUnusedPerUser: 2 } });
    expect((await upload(server, alice, png(1, 1))).status).toBe(201);
    expect((await upload(server, alice, png(1, 1))).status).toBe(201);
    const third = await upload(server, alice, png(1, 1));
    expect([third.status, third.json().error]).toEqual([429, 'too_many_uploads']);
  });
});

describe('downloading', () => {
  it('serves members of the room only (not one removed since), and an unsent upload to its uploader only', async () => {
    const { server, alice, bob, eve, aliceWs, bobWs } = await setUp();
    const { id } = (await upload(server, alice, png(2, 2), { room: 'team', name: 'pic.png' })).json() as {
      id: string;
    };
    expect((await download(server, alice, id)).status).toBe(200);
    expect((await download(server, bob, id)).status).toBe(404); // not sent yet
    await sendWith(aliceWs, 'team', 'm1', [id]);
    const got = await download(server, bob, id);
    expect(got.status).toBe(200);
    expect(got.body.equals(png(2, 2))).toBe(true);
    const refused = await download(server, eve, id);
    expect([refused.status, refused.json()]).toEqual([
      404,
      { error: 'not_found', message: 'no such attachment' },
    ]);
    expect((await download(server, eve, 'A'.repeat(22))).status).toBe(404);
    expect((await download(server, '', id)).status).toBe(401);
    expect((await download(server, bob, id, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await download(server, bob, id, { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // Removed from the room by its owner: the files go with it (the same 404), until invited again.
    expect(await aliceWs.request('removed', { type: 'remove', room: 'team', user: 'bob' })).toMatchObject({
      type: 'removed',
    });
    expect((await download(server, bob, id)).status).toBe(404);
    await aliceWs.request('invited', { type: 'invite', room: 'team', user: 'bob' });
    // Invited is not in: the files stay out of reach until the invitation is accepted.
    expect((await download(server, bob, id)).status).toBe(404);
    await bobWs.request('joined', { type: 'accept', room: 'team' });
    expect((await download(server, bob, id)).status).toBe(200);
  });

  it('an image is inline, everything else a download; always nosniff and a sandboxing CSP', async () => {
    const { server, alice, aliceWs } = await setUp();
    const files = {
      image: png(4, 4),
      html: Buffer.from(HTML_PAYLOAD),
      svg: Buffer.from(SVG_PAYLOAD),
      pdf: Buffer.from('%PDF-1.4\n'),
    };
    const ids: Record<string, string> = {};
    for (const [kind, data] of Object.entries(files))
      ids[kind] = (
        (await upload(server, alice, data, { name: `${kind} “x”.${kind}` })).json() as unknown as Attachment
      ).id;
    await sendWith(aliceWs, 'general', 'm1', Object.values(ids));
    const head = async (kind: string) => {
      const got = await download(server, alice, ids[kind]);
      return {
        type: got.headers.get('content-type'),
        disposition: got.headers.get('content-disposition'),
        nosniff: got.headers.get('x-content-type-options'),
        csp: got.headers.get('content-security-policy'),
        corp: got.headers.get('cross-origin-resource-policy'),
      };
    };
    const common = { nosniff: 'nosniff', csp: "default-src 'none'; sandbox", corp: 'same-origin' };
    expect(await head('image')).toEqual({
      type: 'image/png',
      disposition: `inline; filename="image _x_.image"; filename*=UTF-8''image%20%E2%80%9Cx%E2%80%9D.image`,
      ...common,
    });
    expect(await head('html')).toEqual({
      type: 'text/plain; charset=utf-8',
      disposition: `attachment; filename="html _x_.html"; filename*=UTF-8''html%20%E2%80%9Cx%E2%80%9D.html`,
      ...common,
    });
    expect((await head('svg')).disposition).toMatch(/^attachment; /);
    expect((await head('svg')).type).toBe('text/plain; charset=utf-8');
    expect(await head('pdf')).toMatchObject({ type: 'application/pdf', ...common });
    expect((await head('pdf')).disposition).toMatch(/^attachment; /);
  });

  it("a deleted message's files are no longer served, to anyone", async () => {
    const { server, alice, bob, aliceWs } = await setUp();
    const { id } = (await upload(server, alice, png(1, 1), { room: 'team' })).json() as { id: string };
    const ack = await sendWith(aliceWs, 'team', 'm1', [id], 'look');
    expect(ack.type).toBe('ack');
    expect((await download(server, bob, id)).status).toBe(200);
    await aliceWs.request('ack', { type: 'delete', room: 'team', seq: (ack as { seq: number }).seq });
    expect((await download(server, bob, id)).status).toBe(404);
    expect((await download(server, alice, id)).status).toBe(404);
  });
});

describe('downloads', () => {
  it('are counted per user (429 with Retry-After past the bucket), apart from the user’s WebSocket requests', async () => {
    // Regression: a download, which reads the whole file from the store (a 304 too), was counted
    // nowhere: one account could have a 5 MiB file read from Redis in a loop.
    const clock = new ManualClock();
    const { server, alice, bob, aliceWs, bobWs } = await setUp({
      clock,
      limits: { requestRate: { burst: 3, perSecond: 1 } },
    });
    const file = (await upload(server, alice, png(5, 3), { room: 'team' })).json() as unknown as Attachment;
    expect(await sendWith(aliceWs, 'team', 'm1', [file.id])).toMatchObject({ seq: 1 });
    for (let i = 0; i < 2; i++) expect((await download(server, bob, file.id)).status).toBe(200);
    expect((await download(server, bob, file.id, { 'if-none-match': `"${file.id}"` })).status).toBe(304);
    const refused = await download(server, bob, file.id);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.json()).toEqual({
      error: 'rate_limited',
      message: 'too many requests; retry in 1000 ms',
      retryAfterMs: 1000,
    });
    // Another user's bucket, and the user's own WebSocket requests, are not touched.
    expect((await download(server, alice, file.id)).status).toBe(200);
    expect(await bobWs.request('pong', { type: 'ping' })).toMatchObject({ type: 'pong' });
    clock.advance(1000);
    expect((await download(server, bob, file.id)).status).toBe(200);
  });
});

describe('downloads revalidated (If-None-Match, RFC 9110 13.1.2, as the page files: http/etag.ts)', () => {
  it('answer 304 to the tag alone, weak, in a list, or `*`; 200 to a list without it', async () => {
    // Regression: the header was compared exactly, so a list holding the tag, or `W/"tag"`, was
    // sent the whole file again.
    const { server, alice, bob, aliceWs } = await setUp();
    const file = (await upload(server, alice, png(5, 3), { room: 'team' })).json() as unknown as Attachment;
    expect(await sendWith(aliceWs, 'team', 'm1', [file.id])).toMatchObject({ seq: 1 });
    const tag = `"${file.id}"`;
    for (const header of [tag, `W/${tag}`, `"other", ${tag}`, `W/"other",W/${tag}`, '*']) {
      const answer = await download(server, bob, file.id, { 'if-none-match': header });
      expect(answer.status, header).toBe(304);
      expect(answer.headers.get('etag')).toBe(tag);
      expect(answer.body.length).toBe(0);
    }
    for (const header of ['"other"', `"other", W/"${file.id}x"`, `"other" ${tag}`, `"${'a'.repeat(8000)}"`]) {
      const answer = await download(server, bob, file.id, { 'if-none-match': header });
      expect(answer.status, header).toBe(200);
      expect(answer.body.equals(png(5, 3))).toBe(true);
    }
  });
});

describe('send with attachments', () => {
  it('the message carries the files to everyone in the room; text may then be empty', async () => {
    const { server, alice, aliceWs, bobWs } = await setUp();
    const file = (
      await upload(server, alice, png(5, 3), { room: 'team', name: 'a.png' })
    ).json() as unknown as Attachment;
    expect(await sendWith(aliceWs, 'team', 'm1', [file.id])).toMatchObject({ type: 'ack', seq: 1 });
    const event = await bobWs.next('message', (m) => m.message.room === 'team');
    expect(event.message).toMatchObject({ text: '', attachments: [file] });
    const history = await bobWs.request('history', { type: 'history', room: 'team' });
    expect(history).toMatchObject({ messages: [{ seq: 1, attachments: [file] }] });
    // A resend (same id) is the same message.
    expect(await sendWith(aliceWs, 'team', 'm1', [file.id])).toMatchObject({ seq: 1, duplicate: true });
    // The same id with other files is another message: refused, and the file it claimed is given
    // back (a new id can send it); the original keeps its file.
    const other = (await upload(server, alice, png(2, 2), { room: 'team' })).json() as unknown as Attachment;
    for (const files of [[other.id], [file.id, other.id]])
      expect(await sendWith(aliceWs, 'team', 'm1', files)).toMatchObject({
        type: 'error',
        code: 'id_reused',
      });
    expect(await aliceWs.request('ack', { type: 'send', id: 'm1', room: 'team', text: 'x' })).toMatchObject({
      code: 'id_reused',
    });
    expect(await sendWith(aliceWs, 'team', 'm2', [other.id])).toMatchObject({ type: 'ack', seq: 2 });
    expect(await bobWs.request('history', { type: 'history', room: 'team' })).toMatchObject({
      messages: [
        { seq: 1, attachments: [file] },
        { seq: 2, attachments: [other] },
      ],
    });
  });

  it('a send refused by the store because its author is no longer in the room gives its files back', async () => {
    const { server, bob, bobWs } = await setUp();
    const file = (await upload(server, bob, png(1, 1), { room: 'team' })).json() as unknown as Attachment;
    // Out in the store; bob's connection has not heard of it (no notice is sent at all here).
    expect(await server.backend.rooms.leave('bob', 'team', Date.now())).toBe(true);
    expect(await sendWith(bobWs, 'team', 'b1', [file.id])).toMatchObject({
      type: 'error',
      code: 'not_member',
      message: 'you are not in room team',
    });
    // Back in: a new message can send the file (it was not left claimed by the refused id).
    expect(await server.backend.rooms.join('bob', 'team', 99)).toBe('joined');
    expect(await sendWith(bobWs, 'team', 'b2', [file.id])).toMatchObject({ type: 'ack', seq: 1 });
  });

  it("refuses someone else's upload, one to another room, one already sent, and nothing is stored", async () => {
    const { server, alice, bob, aliceWs, bobWs } = await setUp();
    const bobs = (await upload(server, bob, png(1, 1), { room: 'team' })).json() as unknown as Attachment;
    const general = (
      await upload(server, alice, png(1, 1), { room: 'general' })
    ).json() as unknown as Attachment;
    const mine = (await upload(server, alice, png(1, 1), { room: 'team' })).json() as unknown as Attachment;
    for (const ids of [[bobs.id], [general.id], [mine.id, 'missing']])
      expect(
        await sendWith(aliceWs, 'team', `x${ids.length}${ids[0]}`.slice(0, 60), ids, 'hi'),
      ).toMatchObject({
        type: 'error',
        code: 'not_found',
        message: 'attachments must be your unused uploads to this room',
      });
    // A send refused after its files were claimed (a reply to a missing message) gives them back:
    // regression, they stayed claimed by the refused id, so the corrected message (a new id) was
    // refused too.
    expect(
      await aliceWs.request('ack', {
        type: 'send',
        id: 'bad-reply',
        room: 'team',
        text: 'see this',
        replyTo: 99,
        attachments: [mine.id],
      }),
    ).toMatchObject({ type: 'error', code: 'not_found', message: 'no message 99 in team to reply to' });
    expect(await sendWith(aliceWs, 'team', 'ok', [mine.id])).toMatchObject({ type: 'ack', seq: 1 });
    expect(await sendWith(aliceWs, 'team', 'again', [mine.id])).toMatchObject({ code: 'not_found' });
    const history = await bobWs.request('history', { type: 'history', room: 'team' });
    expect((history as { messages: unknown[] }).messages).toHaveLength(1);
    expect(
      await aliceWs.request('ack', { type: 'send', id: 'e', room: 'team', text: '', attachments: [] }),
    ).toMatchObject({ code: 'bad_message', message: 'attachments must be 1-10 different attachment ids' });
    expect(await aliceWs.request('ack', { type: 'send', id: 'e', room: 'team', text: '' })).toMatchObject({
      code: 'bad_message',
      message: 'text must not be empty',
    });
  });
});

describe('a deleted room and one created again under its name', () => {
  /** eve creates `team` again, uploads a file to it and sends it: the file's id. */
  async function newTeam(server: TestServer, eve: string): Promise<string> {
    const eveWs = (await TestClient.join(server.origin, eve)).client;
    await eveWs.request('joined', { type: 'create', room: 'team' });
    const { id } = (await upload(server, eve, png(2, 2), { room: 'team' })).json() as { id: string };
    expect(await sendWith(eveWs, 'team', 'e1', [id])).toMatchObject({ type: 'ack' });
    return id;
  }

  it("the owner's deletion drops only the deleted room's files, even when its drop comes after the new room's upload", async () => {
    const { server, alice, eve, aliceWs } = await setUp();
    const sent = (await upload(server, alice, png(1, 1), { room: 'team' })).json() as { id: string };
    expect(await sendWith(aliceWs, 'team', 'm1', [sent.id])).toMatchObject({ type: 'ack' });
    const unsent = (await upload(server, alice, png(1, 1), { room: 'team' })).json() as { id: string };
    const held = holdDeleteRoom(server.backend.rooms);
    const deleted = aliceWs.request('left', { type: 'delete_room', room: 'team' });
    // The store has deleted it, its files with it (SQLite: one transaction; the Redis backend's
    // drop after the new room's upload: test/redis/room-recreated-files.test.ts).
    expect(await held.entered).toBe('team');
    const fresh = await newTeam(server, eve);
    held.release();
    expect(await deleted).toMatchObject({ type: 'left', room: 'team', reason: 'deleted' });
    const served = await download(server, eve, fresh);
    expect(served.status).toBe(200);
    expect(served.body).toEqual(png(2, 2));
    expect(await server.backend.attachments.get(sent.id)).toBeNull();
    expect(await server.backend.attachments.get(unsent.id)).toBeNull();
  });

  it("the sweep of an empty room drops only that room's files, even when its drop comes after the new room's upload", async () => {
    const clock = new ManualClock();
    const { server, alice, eve, aliceWs, bobWs } = await setUp({ clock, limits: { emptyRoomTtlMs: 60_000 } });
    const unsent = (await upload(server, alice, png(1, 1), { room: 'team' })).json() as { id: string };
    await aliceWs.request('left', { type: 'leave', room: 'team' });
    await bobWs.request('left', { type: 'leave', room: 'team' });
    clock.advance(60_001);
    const held = holdDropRoom(server.backend.attachments);
    const swept = server.hub.sweep();
    expect(await held.entered).toBe('team');
    const fresh = await newTeam(server, eve);
    held.release();
    expect(await swept).toEqual(['team']);
    expect((await download(server, eve, fresh)).status).toBe(200);
    expect(await server.backend.attachments.get(unsent.id)).toBeNull();
  });
});
