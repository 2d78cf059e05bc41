/** A hook for the tests of a room deleted while one of the same name is created again. */
import type { AttachmentStore } from '../../src/server/ports.js';

/**
 * Holds the first dropRoom of `store` (the hub calls it after the room store deleted the room):
 * `entered` resolves with its room once it is called, and it goes on when `release` is called.
 */
export function holdDropRoom(store: AttachmentStore): { entered: Promise<string>; release: () => void } {
  const original = store.dropRoom.bind(store);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let entered!: (room: string) => void;
  const called = new Promise<string>((resolve) => {
    entered = resolve;
  });
  store.dropRoom = async (room) => {
    store.dropRoom = original;
    entered(room);
    await gate;
    return original(room);
  };
  return { entered: called, release };
}
