/**
 * Races between ending sessions and starting them (test/http/account-races.ts), on one node.
 */
import { afterEach, describe, it } from 'vitest';
import { cleanup, onCleanup, startTestServer, type TestClient } from '../helpers.js';
import { signInRace, upgradeRace } from './account-races.js';

afterEach(cleanup);

const track = (c: TestClient) => onCleanup(async () => void c.ws.terminate());

describe('a password change racing a sign-in with the old password', () => {
  it('leaves no session to the sign-in checked before the change and stored after it', async () => {
    // Regression: the sign-in's session was stored after the change's step had ended the user's
    // other sessions, so whoever knew the old password kept a session past the change.
    const server = await startTestServer();
    await signInRace([server.origin], server.backend.accounts);
  });
});

describe('an upgrade racing the end of its session', () => {
  it('closes a WebSocket whose session "sign out other sessions" ended while the upgrade looked it up', async () => {
    // Regression: the hub was told of the ended session before the socket was attached, found
    // nothing to close, and the socket went on as the signed-out session.
    const server = await startTestServer();
    await upgradeRace([server.origin], server.backend.accounts, track);
  });
});
