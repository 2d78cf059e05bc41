/**
 * Signing up, in and out (docs/chat-protocol.md, section 1).
 *
 * - Sign-up and sign-in are separate: sign-in never creates an account, and every failed sign-in
 *   gets the same answer (401 bad_credentials) after the same work (a password check runs for
 *   unknown names too), so a probe learns nothing about which names exist. (Sign-up necessarily
 *   says a name is taken; it is rate-limited per address more tightly than sign-in.)
 * - A name that reads like an existing account's (backends/name-skeleton.ts: `aIice` beside
 *   `alice`) is refused as taken, 409 name_taken, with `similar: true` and a message saying so;
 *   the store decides it in the insert itself, so two look-alikes at once cannot both get in.
 * - Limits: per client address (token buckets signInPerIp, signUpPerIp; the address is the
 *   socket's peer, or behind trusted proxies the one X-Forwarded-For gives, and an IPv6 client is
 *   counted per /64: client-address.ts) and per account name (backoff after repeated failures,
 *   whether or not the name exists), both counted by the backend's throttle, so on several nodes
 *   they hold across nodes.
 * - A user keeps at most MAX_SESSIONS_PER_USER sessions: a sign-in (or sign-up) past it ends the
 *   user's oldest ones, whose sockets close as at a sign-out. Refusing the new sign-in instead would
 *   let whoever piled up sessions lock the owner out.
 * - A signed-in user may change the password (the current one with it) or sign out every other
 *   session; either ends all the user's sessions but the one asking, in one store step (with the
 *   new password's hash for a change), and their sockets close, on every node, as at a sign-out.
 *   A password change also gives the asking session a new token (in the answer's cookie) and ends
 *   its old one in that step, as is usual after a password change: whoever copied the old token
 *   keeps nothing. Its sockets close with 4001 (not 1008): a page reconnects, with the new cookie
 *   if it got the answer, and is refused (401, signed out) if it did not.
 *   A wrong current password counts as a failed sign-in of the name (the same backoff and
 *   per-address bucket), so a session left open somewhere cannot be used to guess the password.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEFAULT_ROOM, MAX_PASSWORD, MIN_PASSWORD, USER_NAME } from '../../shared/protocol.js';
import { createDefaultRoom } from '../default-room.js';
import type { AccountStore, Clock, RoomStore, SessionRecord, Throttle } from '../ports.js';
import { clientAddress, rateLimitKey, type TrustedProxies } from './client-address.js';
import {
  credentialProblem,
  hashPassword,
  passwordProblem,
  verifyNothing,
  verifyPassword,
} from './passwords.js';
import {
  clearedCookie,
  MAX_SESSIONS_PER_USER,
  newToken,
  SESSION_TTL_MS,
  sessionCookie,
  sessionFromRequest,
  tokenOf,
} from './session.js';

export interface AccountDeps {
  accounts: AccountStore;
  rooms: RoomStore;
  throttle: Throttle;
  clock: Clock;
  secureCookies: boolean;
  maxRoomsPerUser: number;
  /** The reverse proxies whose X-Forwarded-For names the client (none: the socket's peer is). */
  trustedProxies: TrustedProxies;
  /**
   * Closes the WebSockets of a session that signed out: this node's, and the other nodes' when its
   * user is known (null: the session had expired, this node's are closed all the same).
   */
  endSession(user: string | null, token: string, renewed?: boolean): void;
}

export type Send = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
) => void;

function tooMany(send: Send, res: ServerResponse, wait: number, message: string): void {
  send(
    res,
    429,
    { error: 'rate_limited', message, retryAfterMs: wait },
    { 'retry-after': String(Math.ceil(wait / 1000)) },
  );
}

export function accountHandlers(deps: AccountDeps, send: Send) {
  const { accounts, throttle, clock, trustedProxies } = deps;
  /** The per-address buckets' key of the request's client. */
  const address = (req: IncomingMessage) =>
    rateLimitKey(
      clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for'], trustedProxies),
    );

  /**
   * `checked`: the password hash a sign-in was checked against. A change of the password ends the
   * user's other sessions in one store step, but a sign-in with the old password checked before
   * that step could insert its session after it, and outlive the change; so the account is read
   * again once the session is in, and a session whose password changed meanwhile is ended and
   * answered as a wrong password (inserted before the step, the step itself ended it).
   */
  async function startSession(
    res: ServerResponse,
    user: string,
    status: number,
    checked?: string,
  ): Promise<void> {
    const token = newToken();
    const now = clock.now();
    const ended = await accounts.createSession(
      { token, user, expiresAt: now + SESSION_TTL_MS },
      now,
      MAX_SESSIONS_PER_USER,
    );
    // The sessions the cap pushed out are deleted; their sockets close as at a sign-out.
    for (const old of ended) deps.endSession(user, old);
    if (checked !== undefined && (await accounts.getUser(user))?.passwordHash !== checked) {
      await accounts.deleteSession(token);
      return send(res, 401, { error: 'bad_credentials', message: 'wrong name or password' });
    }
    send(res, status, { user }, { 'set-cookie': sessionCookie(token, deps.secureCookies) });
  }

  /** The request's session; null when it has none, answered 401 no_session. */
  async function signedIn(req: IncomingMessage, res: ServerResponse): Promise<SessionRecord | null> {
    const session = await sessionFromRequest(accounts, req, clock.now(), deps.secureCookies);
    if (!session) send(res, 401, { error: 'no_session', message: 'not signed in' });
    return session;
  }

  /** The sessions a store step ended: their sockets close on every node, as at a sign-out. */
  function ended(user: string, tokens: readonly string[]): number {
    for (const token of tokens) deps.endSession(user, token);
    return tokens.length;
  }

  return {
    async register(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
      const wait = await throttle.take('signUpPerIp', address(req), clock.now());
      if (wait > 0) return tooMany(send, res, wait, 'too many accounts created from this address');
      const { name, password } = (body ?? {}) as { name?: unknown; password?: unknown };
      const problem = credentialProblem(name, password);
      if (problem || typeof name !== 'string' || typeof password !== 'string')
        return send(res, 400, { error: 'bad_request', message: problem });
      const record = { name, passwordHash: await hashPassword(password), createdAt: clock.now() };
      // A look-alike of an existing name (backends/name-skeleton.ts) is refused as taken, with
      // `similar` and its own message: the user learns why a name no one has is refused.
      const made = await accounts.createUser(record);
      if (made === 'taken') return send(res, 409, { error: 'name_taken', message: 'that name is taken' });
      if (made === 'similar')
        return send(res, 409, {
          error: 'name_taken',
          message: 'that name is too similar to an existing name',
          similar: true,
        });
      // `general` is missing only from a store that lost it (default-room.ts): made again here,
      // before this account joins it, so that it is in general like every account.
      if ((await deps.rooms.join(name, DEFAULT_ROOM, deps.maxRoomsPerUser)) === 'no_room') {
        await createDefaultRoom(deps.rooms, clock.now());
        await deps.rooms.join(name, DEFAULT_ROOM, deps.maxRoomsPerUser);
      }
      await startSession(res, name, 201);
    },

    async login(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
      const now = clock.now();
      const ipWait = await throttle.take('signInPerIp', address(req), now);
      if (ipWait > 0) return tooMany(send, res, ipWait, 'too many sign-in attempts from this address');
      const { name, password } = (body ?? {}) as { name?: unknown; password?: unknown };
      if (typeof name !== 'string' || typeof password !== 'string' || password.length > MAX_PASSWORD)
        return send(res, 400, { error: 'bad_request', message: 'send {"name": "...", "password": "..."}' });
      // A name no account can have is answered alike but never counted: its backoff would be a
      // key as long as the body allows (4 KiB, an hour in the throttle or in Redis) per attempt,
      // and such a name needs none (it can never sign in; the address's bucket still applies).
      const possible = USER_NAME.test(name);
      // Counted as a failure before the password is checked (a success clears it): attempts sent
      // at once, from any number of addresses, each meet the count of those before them, where a
      // count made after the check let a whole burst through while the first was being checked.
      const wait = possible ? await throttle.signInAttempt(name, now) : 0;
      if (wait > 0) return tooMany(send, res, wait, 'too many failed sign-ins for this name; wait');
      const user = possible && password.length >= MIN_PASSWORD ? await accounts.getUser(name) : null;
      const ok = user ? await verifyPassword(password, user.passwordHash) : await verifyNothing(password);
      if (!user || !ok)
        return send(res, 401, { error: 'bad_credentials', message: 'wrong name or password' });
      await throttle.signInSucceeded(name);
      await startSession(res, user.name, 200, user.passwordHash);
    },

    /**
     * POST /api/logout. With a token, its two store steps (the look-up, the delete) are counted in the
     * address's sign-in bucket first, as logout-others is (made-up tokens cost them too). A refused
     * sign-out still clears the cookie: the browser is signed out either way, and the session, left
     * in the store, ends at its expiry or with "Sign out other sessions" (SECURITY.md).
     */
    async logout(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const token = tokenOf(req, deps.secureCookies);
      const cleared = { 'set-cookie': clearedCookie(deps.secureCookies) };
      if (token) {
        const wait = await throttle.take('signInPerIp', address(req), clock.now());
        if (wait > 0)
          return send(
            res,
            429,
            {
              error: 'rate_limited',
              message: 'too many requests from this address; signed out in this browser only',
              retryAfterMs: wait,
            },
            { 'retry-after': String(Math.ceil(wait / 1000)), ...cleared },
          );
        // Its user names the topic that reaches the session's sockets on the other nodes. An
        // expired one is not found, but sockets opened while it was valid may still be open.
        const session = await accounts.getSession(token, clock.now());
        await accounts.deleteSession(token);
        deps.endSession(session?.user ?? null, token);
      }
      send(res, 200, { ok: true }, cleared);
    },

    /**
     * POST /api/password {"current","password"}: the current password, checked as a sign-in checks
     * it (counted for the name's backoff before the check), and the new one (sign-up's rules).
     */
    async changePassword(req: IncomingMessage, res: ServerResponse, body: unknown): Promise<void> {
      const now = clock.now();
      // Before the session's look-up, a store step a made-up token costs as much as a real one.
      const ipWait = await throttle.take('signInPerIp', address(req), now);
      if (ipWait > 0) return tooMany(send, res, ipWait, 'too many password attempts from this address');
      const session = await signedIn(req, res);
      if (!session) return;
      const { current, password } = (body ?? {}) as { current?: unknown; password?: unknown };
      if (typeof current !== 'string' || current.length > MAX_PASSWORD)
        return send(res, 400, {
          error: 'bad_request',
          message: 'send {"current": "...", "password": "..."}',
        });
      const problem = passwordProblem(password);
      if (problem || typeof password !== 'string')
        return send(res, 400, { error: 'bad_request', message: problem });
      const wait = await throttle.signInAttempt(session.user, now);
      if (wait > 0) return tooMany(send, res, wait, 'too many wrong passwords for this name; wait');
      const user = current.length >= MIN_PASSWORD ? await accounts.getUser(session.user) : null;
      const ok = user ? await verifyPassword(current, user.passwordHash) : await verifyNothing(current);
      // 403, not 401: the session is valid (the page must not take it for a sign-out).
      if (!user || !ok)
        return send(res, 403, { error: 'wrong_password', message: 'the current password is wrong' });
      await throttle.signInSucceeded(session.user);
      const newHash = await hashPassword(password);
      // The asking session's next token, kept by the change's step, which ends every other session,
      // its old token's with them. Past the cap by one, so that making it ends no session before
      // the change is known to apply.
      const token = newToken();
      const at = clock.now();
      await accounts.createSession(
        { token, user: user.name, expiresAt: at + SESSION_TTL_MS },
        at,
        MAX_SESSIONS_PER_USER + 1,
      );
      const tokens = await accounts.changePassword(user.name, user.passwordHash, newHash, token, clock.now());
      // Changed by another request since it was checked: nothing was done (the new token dropped).
      if (tokens === null) {
        await accounts.deleteSession(token);
        return send(res, 409, {
          error: 'password_changed',
          message: 'the password was changed meanwhile; try again',
        });
      }
      const others = tokens.filter((t) => t !== session.token);
      send(
        res,
        200,
        { ok: true, ended: others.length },
        { 'set-cookie': sessionCookie(token, deps.secureCookies) },
      );
      ended(user.name, others);
      // After the answer: its page reconnects with the cookie the answer set.
      deps.endSession(user.name, session.token, true);
    },

    /**
     * POST /api/logout-others: ends every session of the user but this one. Counted in the address's
     * sign-in bucket before the session is looked up, as a sign-in is: the look-up and the step that
     * ends the sessions are store steps, and a cookie with a made-up token costs the first one too.
     */
    async logoutOthers(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const wait = await throttle.take('signInPerIp', address(req), clock.now());
      if (wait > 0) return tooMany(send, res, wait, 'too many requests from this address');
      const session = await signedIn(req, res);
      if (!session) return;
      const tokens = await accounts.deleteOtherSessions(session.user, session.token, clock.now());
      send(res, 200, { ok: true, ended: ended(session.user, tokens) });
    },

    /**
     * Who is signed in: a question, so "nobody" is an answer (200), not a refusal. A 401 here was
     * logged as an error in the browser's console at every signed-out page load.
     */
    async session(req: IncomingMessage, res: ServerResponse): Promise<void> {
      // A request that names a token costs a store step (the look-up), made-up tokens as much as
      // real ones: counted per address, in the `requests` bucket (the one a page's WebSocket
      // requests are counted in, per user) under a key no user name can be. Not the sign-in bucket:
      // every page load asks here, and the page takes any answer but 200 for "signed out". A
      // request without a token is answered without the store and not counted.
      if (tokenOf(req, deps.secureCookies) !== null) {
        const wait = await throttle.take('requests', `address ${address(req)}`, clock.now());
        if (wait > 0) return tooMany(send, res, wait, 'too many requests from this address');
      }
      const session = await sessionFromRequest(accounts, req, clock.now(), deps.secureCookies);
      if (session) send(res, 200, { signedIn: true, user: session.user });
      else send(res, 200, { signedIn: false });
    },
  };
}
