/**
 * `general`, the room every account starts in: created by each node at start, and again by a
 * sign-up or a `create general` that finds it missing (hub/membership.ts). Only a store that lost
 * it can be missing it (nothing deletes it: it has no owner, and the expiry of empty rooms passes
 * it over): a Redis that came back empty (restarted without its AOF, flushed, failed over to an
 * empty replica) while the nodes ran on. Without this, every account created after that was in no
 * room at all until a node restarted, and the first user to `create general` owned it.
 */
import { DEFAULT_ROOM } from '../shared/protocol.js';
import type { CreateRoomResult, RoomStore } from './ports.js';

/**
 * Creates `general` (public, no owner, outside every quota) if the store has no room of the name:
 * 'created', or 'exists'.
 */
export function createDefaultRoom(rooms: RoomStore, now: number): Promise<CreateRoomResult> {
  return rooms.createRoom(
    { name: DEFAULT_ROOM, kind: 'public', owner: null, createdAt: now },
    { maxRooms: Number.MAX_SAFE_INTEGER, maxOwnedRooms: Number.MAX_SAFE_INTEGER },
  );
}
