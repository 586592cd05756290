// What the MUC service counts of its rooms so that one account cannot take what all share: the
// rooms' names in order (disco#items pages them, XEP-0059), who created each room that exists
// (a persistent room keeps its creator in the store, StoredRoom.creator), and the rooms each
// account is in (by bare JID, however many of its resources are there). Everything is in memory,
// updated as rooms come and go and occupants enter and leave: a check is a map lookup.
import { SortedKeys } from "../../core/rsm.ts";
import type { Room } from "./room.ts";

export interface RoomQuotas {
  /** Rooms one account may have created that exist. */
  readonly created: number;
  /** Rooms one account may be in at once. */
  readonly joined: number;
}

export class RoomDirectory {
  /** Local parts of the rooms, in order. */
  readonly names = new SortedKeys();
  private readonly creatorOf = new Map<Room, string>();
  private readonly createdBy = new Map<string, number>();
  private readonly visits = new Map<string, Map<Room, number>>();

  /** A room that exists now; `creator` is a bare JID, undefined for a room of unknown creator. */
  added(room: Room, creator: string | undefined): void {
    this.names.add(room.jid.local);
    if (creator === undefined) return;
    this.creatorOf.set(room, creator);
    this.createdBy.set(creator, (this.createdBy.get(creator) ?? 0) + 1);
  }

  removed(room: Room): void {
    this.names.delete(room.jid.local);
    const creator = this.creatorOf.get(room);
    if (creator === undefined) return;
    this.creatorOf.delete(room);
    const n = (this.createdBy.get(creator) ?? 1) - 1;
    if (n > 0) this.createdBy.set(creator, n);
    else this.createdBy.delete(creator);
  }

  creator(room: Room): string | undefined {
    return this.creatorOf.get(room);
  }

  created(account: string): number {
    return this.createdBy.get(account) ?? 0;
  }

  /** One of the account's resources entered (or left) the room. */
  visiting(room: Room, account: string, present: boolean): void {
    let rooms = this.visits.get(account);
    if (present) {
      if (!rooms) this.visits.set(account, (rooms = new Map()));
      rooms.set(room, (rooms.get(room) ?? 0) + 1);
      return;
    }
    const n = (rooms?.get(room) ?? 1) - 1;
    if (n > 0) rooms!.set(room, n);
    else if (rooms) {
      rooms.delete(room);
      if (rooms.size === 0) this.visits.delete(account);
    }
  }

  /** Whether entering `room` (undefined: a new one) would put the account in more rooms than `max`. */
  overJoined(account: string, room: Room | undefined, max: number): boolean {
    const rooms = this.visits.get(account);
    if (room !== undefined && rooms?.has(room)) return false;
    return (rooms?.size ?? 0) >= max;
  }
}
