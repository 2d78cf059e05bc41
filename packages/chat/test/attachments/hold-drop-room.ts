/** Hooks for the tests of a room deleted while one of the same name is created again. */
import type { AttachmentStore, RoomStore } from '../../src/server/ports.js';

/** A method's first call held: `entered` resolves with its room, and it goes on at `release`. */
interface Held {
  entered: Promise<string>;
  release: () => void;
}

/** A barrier: `enter(room)` resolves `entered`, and `open` resolves at `release()`. */
export function gate(): Held & { open: Promise<void>; enter: (room: string) => void } {
  let release!: () => void;
  const open = new Promise<void>((resolve) => {
    release = resolve;
  });
  let enter!: (room: string) => void;
  const entered = new Promise<string>((resolve) => {
    enter = resolve;
  });
  return { entered, release, open, enter };
}

/**
 * Holds the first dropRoom of `store` (the hub calls it after the room store expired the room):
 * `entered` resolves with its room once it is called, and it goes on when `release` is called.
 */
export function holdDropRoom(store: AttachmentStore): Held {
  const original = store.dropRoom.bind(store);
  const held = gate();
  store.dropRoom = async (room) => {
    store.dropRoom = original;
    held.enter(room);
    await held.open;
    return original(room);
  };
  return { entered: held.entered, release: held.release };
}

/**
 * Holds the answer of the first deletion of `store` by a deleting node's hub (its
 * deleteRoomAndInvitations) once the store has deleted the room: `entered` resolves with its room
 * then, and the hub goes on (its answer, its notice to the members) when `release` is called.
 */
export function holdDeleteRoom(store: RoomStore): Held {
  const original = store.deleteRoomAndInvitations.bind(store);
  const held = gate();
  store.deleteRoomAndInvitations = async (room) => {
    store.deleteRoomAndInvitations = original;
    const deleted = await original(room);
    held.enter(room);
    await held.open;
    return deleted;
  };
  return { entered: held.entered, release: held.release };
}
