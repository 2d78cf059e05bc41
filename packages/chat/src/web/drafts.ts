/**
 * The composer's drafts, one per room: what was typed there and not sent, with the message it
 * replies to or the own message it edits (and then the new message put aside for the edit). main.ts saves the composer into its room's draft as the
 * user types and when it changes room, and puts the draft of the room opened back; so text typed
 * in one room is never sent to another.
 *
 * Kept across reloads as the outbox is (sessionStorage on the page: this tab's, cleared on sign
 * out), bounded: at most MAX_DRAFTS rooms (the one written longest ago goes first), and the saved
 * copy holds the newest drafts up to MAX_SAVED_CHARS of text in all (an older one that does not fit
 * stays in memory, not saved). The user who wrote them is saved with them: drafts found under
 * another name (a different account signed in in this tab) are dropped, never shown to it.
 *
 * No DOM: the host reads and writes the stored JSON; tests drive it with a plain string.
 */

export interface Reply {
  seq: number;
  /** What the reply banner says of it ("bob: the question"). */
  label: string;
}

export interface Draft {
  text: string;
  /** The message this draft replies to. */
  reply?: Reply;
  /** The seq of the user's own message this text edits (instead of being a new message). */
  edit?: number;
  /** While editing: the new message that was being written, put aside until the edit ends. */
  before?: { text: string; reply?: Reply };
}

export interface DraftHost {
  /** The saved JSON, or null. */
  load(): string | null;
  /** Saves the JSON (may throw, e.g. over the storage quota: the drafts stay in memory). */
  save(json: string): void;
}

export const MAX_DRAFTS = 50;
export const MAX_SAVED_CHARS = 100_000;

interface Saved {
  v: 1;
  user: string;
  /** Written longest ago first. */
  drafts: [string, Draft][];
}

export function isEmptyDraft(draft: Draft): boolean {
  return draft.text === '' && draft.reply === undefined && draft.edit === undefined;
}

function validReply(value: unknown): Reply | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { seq, label } = value as Record<string, unknown>;
  return Number.isSafeInteger(seq) && typeof label === 'string' ? { seq: seq as number, label } : undefined;
}

/** A draft read back from storage, or null if it is not one (edited by hand, an older page). */
function validDraft(value: unknown): Draft | null {
  if (typeof value !== 'object' || value === null) return null;
  const { text, reply, edit, before } = value as Record<string, unknown>;
  if (typeof text !== 'string') return null;
  const draft: Draft = { text };
  const target = validReply(reply);
  if (target) draft.reply = target;
  if (Number.isSafeInteger(edit)) {
    draft.edit = edit as number;
    const aside = typeof before === 'object' && before !== null ? (before as Record<string, unknown>) : {};
    if (typeof aside.text === 'string') {
      draft.before = { text: aside.text };
      const asideReply = validReply(aside.reply);
      if (asideReply) draft.before.reply = asideReply;
    }
  }
  return isEmptyDraft(draft) ? null : draft;
}

export class Drafts {
  readonly #host: DraftHost;
  /** In the order written, longest ago first. */
  readonly #drafts = new Map<string, Draft>();
  #user = '';

  constructor(host: DraftHost) {
    this.#host = host;
    let saved: Partial<Saved> | null = null;
    try {
      saved = JSON.parse(host.load() ?? 'null') as Partial<Saved> | null;
    } catch {
      saved = null;
    }
    if (typeof saved !== 'object' || saved === null) return;
    if (typeof saved.user === 'string') this.#user = saved.user;
    if (!Array.isArray(saved.drafts)) return;
    for (const entry of saved.drafts) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') continue;
      const draft = validDraft(entry[1]);
      if (draft) this.#drafts.set(entry[0], draft);
    }
    while (this.#drafts.size > MAX_DRAFTS) this.#drafts.delete(this.#drafts.keys().next().value as string);
  }

  get(room: string): Draft | undefined {
    return this.#drafts.get(room);
  }

  /** The rooms with a draft. */
  rooms(): string[] {
    return [...this.#drafts.keys()];
  }

  /** Saves `room`'s draft (an empty one removes it). */
  set(room: string, draft: Draft): void {
    const before = this.#drafts.get(room);
    if (isEmptyDraft(draft)) {
      if (!before) return;
      this.#drafts.delete(room);
    } else {
      if (before && sameDraft(before, draft)) return;
      this.#drafts.delete(room); // to the end: the newest
      this.#drafts.set(room, structuredClone(draft));
      while (this.#drafts.size > MAX_DRAFTS) this.#drafts.delete(this.#drafts.keys().next().value as string);
    }
    this.#save();
  }

  /** Removes `room`'s draft and returns it (its room is gone: the page tells the user). */
  take(room: string): Draft | undefined {
    const draft = this.#drafts.get(room);
    if (!draft) return undefined;
    this.#drafts.delete(room);
    this.#save();
    return draft;
  }

  /**
   * The user signed in (the welcome): drafts saved by someone else are dropped (true: there were
   * some). Saved from now on under `user`.
   */
  signedIn(user: string): boolean {
    const foreign = this.#user !== '' && this.#user !== user && this.#drafts.size > 0;
    if (foreign) this.#drafts.clear();
    const changed = this.#user !== user;
    this.#user = user;
    if (foreign || changed) this.#save();
    return foreign;
  }

  clear(): void {
    this.#drafts.clear();
    this.#user = '';
    this.#save();
  }

  #save(): void {
    const kept: [string, Draft][] = [];
    let chars = 0;
    for (const [room, draft] of [...this.#drafts].reverse()) {
      const size =
        draft.text.length +
        (draft.reply?.label.length ?? 0) +
        (draft.before?.text.length ?? 0) +
        (draft.before?.reply?.label.length ?? 0);
      if (chars + size > MAX_SAVED_CHARS) continue;
      chars += size;
      kept.push([room, draft]);
    }
    const saved: Saved = { v: 1, user: this.#user, drafts: kept.reverse() };
    try {
      this.#host.save(JSON.stringify(saved));
    } catch {
      // Over the quota: kept in memory; the next save tries again.
    }
  }
}

function sameReply(a: Reply | undefined, b: Reply | undefined): boolean {
  return a?.seq === b?.seq && a?.label === b?.label;
}

function sameDraft(a: Draft, b: Draft): boolean {
  return (
    a.text === b.text &&
    a.edit === b.edit &&
    sameReply(a.reply, b.reply) &&
    a.before?.text === b.before?.text &&
    sameReply(a.before?.reply, b.before?.reply)
  );
}

/**
 * Whether the composer's draft can be left without losing typed text: it edits no message, or the
 * text being edited is still `original`, the message's text (unknown: undefined, taken as changed).
 */
export function editUnchanged(draft: Draft, original: string | undefined): boolean {
  return draft.edit === undefined || draft.text === original;
}

/**
 * The composer (its draft `current`) is to edit the user's message `target`: the draft for that edit,
 * or null while it edits another message with changed text. That edit is kept (the page says so;
 * the user sends or cancels it first), never silently replaced. `original` is the text of the message
 * being edited (editUnchanged). A new message being written is put aside for the edit (`before`),
 * as is the one put aside for an unchanged edit left for this one; editing the message already being
 * edited keeps its text.
 */
export function editDraft(
  current: Draft,
  target: { seq: number; text: string },
  original?: string,
): Draft | null {
  if (current.edit === target.seq) return current;
  if (!editUnchanged(current, original)) return null;
  const before =
    current.edit !== undefined
      ? current.before
      : current.text === '' && current.reply === undefined
        ? undefined
        : { text: current.text, ...(current.reply ? { reply: current.reply } : {}) };
  return { text: target.text, edit: target.seq, ...(before ? { before } : {}) };
}
