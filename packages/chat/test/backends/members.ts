/**
 * The store refuses a write by a user who is not a member of the room (ports.ts, `not_member`).
 * Tests about other things (numbering, dedup, history, search...) append as users they never
 * joined: `asMembers` wraps a store so that each appendEvent and react first joins its author to
 * the room (a no-op for a member or a room that does not exist). The membership rule itself is
 * tested on the bare store (store-contract.ts, "refuses the writes of a user who is not a member").
 */
import type { AppendInput, ReactInput, RoomStore } from '../../src/server/ports.js';

export function asMembers<T extends RoomStore>(store: T): T {
  const join = (user: string, room: string) => store.join(user, room, Number.MAX_SAFE_INTEGER);
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'appendEvent')
        return async (input: AppendInput) => {
          await join(input.user, input.room);
          return target.appendEvent(input);
        };
      if (prop === 'react')
        return async (input: ReactInput) => {
          await join(input.user, input.room);
          return target.react(input);
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
