// @vitest-environment happy-dom
/**
 * The conversation drawn in a DOM without a browser (happy-dom): a change draws what changed.
 * A row that looks the same after a new message, a reaction on another message or an older page
 * is the same node (its focus, its loaded images stay; 3,300 rows are not drawn again); a row
 * that changed (edit, reaction, deletion, its group or day after a neighbour came) is drawn anew,
 * as it now reads.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ChatMessage,
  type ClientMessage,
  DEFAULT_LIMITS,
  type ServerMessage,
} from '../../src/shared/protocol.js';
import {
  excerpt,
  followOwnMessage,
  LAY_OUT_MIN,
  type MessageActions,
  messageName,
  onConversationScroll,
  readerMovesUp,
  renderMessages,
  setPageClock,
  showMessage,
} from '../../src/web/conversation.js';
import type { Outbox, Pending } from '../../src/web/outbox.js';
import { ChatState } from '../../src/web/room-state.js';
import { GROUP_MS } from '../../src/web/timeline.js';

const PAGE = `
  <div id="messages">
    <button id="load-older" type="button" hidden>Load older messages</button>
    <ol id="message-list" aria-label="Messages"></ol>
  </div>
  <button id="jump-latest" type="button" hidden><span id="jump-count"></span>Jump to latest</button>
  <textarea id="composer-input"></textarea>`;

/** 1 January 2020, 9:00 local time: far from today, so days are dates. */
const DAY1 = new Date(2020, 0, 1, 9).getTime();
const DAY2 = new Date(2020, 0, 2, 9).getTime();

const said = (seq: number, user = 'bob', ts = DAY1 + seq * 1000): ChatMessage => ({
  room: 'general',
  seq,
  id: `id${seq}`,
  user,
  text: `text ${seq}`,
  ts,
});

const noop = () => {};
const actions: MessageActions = {
  edit: noop,
  remove: noop,
  dm: noop,
  react: noop,
  pickReaction: noop,
  reply: noop,
  reveal: noop,
  resendPending: (id) => id,
  editPending: noop,
  discardPending: noop,
  showBlocked: noop,
};

interface Setup {
  state: ChatState;
  items: Pending[];
  /** Draws the list as main.ts does after a change (`older`: a page came before the others). */
  draw(mode?: 'update' | 'older'): void;
  /** The last request sent, with its ref. */
  last(): ClientMessage & { ref: string };
  event(msg: ServerMessage): void;
}

/** general, loaded with `messages` (seq 1..n: the head), `hasMore` older ones, alice reading. */
function setup(messages: ChatMessage[], hasMore = false, welcome: { admin?: true } = {}): Setup {
  document.body.innerHTML = PAGE;
  const sent: ClientMessage[] = [];
  const state = new ChatState({ send: (m) => sent.push(m), now: () => DAY2 });
  const head = messages.at(-1)?.seq ?? 0;
  const room = {
    room: 'general',
    kind: 'public' as const,
    owner: null,
    head,
    unread: 0,
    mentions: 0,
    online: [],
  };
  state.receive({
    v: 2,
    type: 'welcome',
    invitations: [],
    blocked: [],
    user: 'alice',
    rooms: [room],
    limits: DEFAULT_LIMITS,
    ...welcome,
  });
  const last = () => sent.at(-1) as ClientMessage & { ref: string };
  state.receive({ v: 2, type: 'history', ref: last().ref, room: 'general', messages, head, hasMore });
  const items: Pending[] = [];
  const outbox = { items } as unknown as Outbox;
  const draw = (mode: 'update' | 'older' = 'update') => {
    state.changes.clear();
    renderMessages(state, outbox, actions, mode);
  };
  draw();
  return { state, items, draw, last, event: (msg) => state.receive(msg) };
}

const list = () => document.getElementById('message-list') as HTMLElement;
const row = (seq: number) =>
  list().querySelector<HTMLElement>(`li.message[data-seq="${seq}"]`) as HTMLElement;
/** Every row, by what it is: `m3` a message, `d` a day, `p…` an unsent message, `n` a notice. */
const shape = () =>
  [...list().children].map((li) =>
    li.classList.contains('day')
      ? `d ${li.textContent}`
      : li.classList.contains('pending')
        ? `p${(li as HTMLElement).dataset.pending}`
        : li.classList.contains('notice')
          ? 'n'
          : li.classList.contains('unread-divider')
            ? 'u'
            : `m${(li as HTMLElement).dataset.seq}`,
  );
const nodes = () => [...list().children];

const message = (m: ChatMessage): ServerMessage => ({ v: 2, type: 'message', message: m });

beforeEach(() => {
  document.body.innerHTML = '';
});

describe('the conversation draws what changed', () => {
  it('keeps every row (the same nodes) when a new message comes, and adds its row', () => {
    const { draw, event } = setup([said(1), said(2), said(3, 'carol')]);
    const before = nodes();
    expect(before).toHaveLength(4); // the day, then three messages
    event(message(said(4, 'dave')));
    draw();
    for (const [i, node] of before.entries()) expect(nodes()[i]).toBe(node);
    expect(row(4).textContent).toContain('text 4');
    expect(row(4).classList.contains('first')).toBe(true);
  });

  it('keeps the focused button focused (the same node) when a message comes', () => {
    const { draw, event } = setup([said(1), said(2, 'carol')]);
    const reply = row(1).querySelector<HTMLElement>('.tool.reply') as HTMLElement;
    reply.focus();
    expect(document.activeElement).toBe(reply);
    event(message(said(3)));
    draw();
    expect(document.activeElement).toBe(reply);
    expect(reply.isConnected).toBe(true);
  });

  it('draws again only the row a reaction is on', () => {
    const { draw, event } = setup([said(1), said(2, 'carol'), said(3, 'dave')]);
    const [one, two, three] = [row(1), row(2), row(3)];
    event({
      v: 2,
      type: 'reacted',
      room: 'general',
      seq: 4,
      target: 2,
      user: 'bob',
      emoji: '👍',
      on: true,
      ts: DAY1,
    });
    draw();
    expect(row(1)).toBe(one);
    expect(row(3)).toBe(three);
    expect(row(2)).not.toBe(two);
    const chip = row(2).querySelector<HTMLElement>('.reaction') as HTMLElement;
    expect(chip.dataset.emoji).toBe('👍');
    expect(chip.querySelector('.count')?.textContent).toBe('1');
    expect(shape()).toEqual([expect.stringMatching(/^d /), 'm1', 'm2', 'm3']);
  });

  it('draws again the edited row, with its new text and "(edited)", and the quotes of its replies', () => {
    const reply: ChatMessage = { ...said(3, 'dave'), reply: { seq: 1, user: 'bob', text: 'text 1' } };
    const { draw, event } = setup([said(1), said(2, 'carol'), reply]);
    const [one, two, three] = [row(1), row(2), row(3)];
    event({
      v: 2,
      type: 'edited',
      room: 'general',
      seq: 4,
      target: 1,
      user: 'bob',
      text: 'better',
      ts: DAY1 + 9000,
    });
    draw();
    expect(row(2)).toBe(two);
    expect(row(1)).not.toBe(one);
    expect(row(1).querySelector('.text')?.textContent).toBe('better (edited)');
    expect(row(3)).not.toBe(three);
    expect(row(3).querySelector('.reply-text')?.textContent).toBe('better');
  });

  it('draws again a deleted row as "message deleted", without its tools; the others stay', () => {
    const { draw, event } = setup([said(1, 'alice'), said(2, 'carol')]);
    const two = row(2);
    expect(row(1).querySelector('.tool.delete')).not.toBeNull();
    event({ v: 2, type: 'deleted', room: 'general', seq: 3, target: 1, user: 'alice', ts: DAY1 });
    draw();
    expect(row(2)).toBe(two);
    expect(row(1).classList.contains('deleted')).toBe(true);
    expect(row(1).querySelector('.text')?.textContent).toBe('message deleted');
    expect(row(1).querySelector('.actions')).toBeNull();
  });

  it('keeps the rows when an older page comes before them, drawing again the one whose group changed', () => {
    // bob's 3 started a group; 2 (bob, a second before) arrives with the older page: 3 joins its
    // group (no name, no avatar), drawn again; 4 and the day are the same nodes, now after 1 and 2.
    const { draw, state, last, event } = setup([said(3), said(4, 'carol')], true);
    const [day, three, four] = nodes();
    expect(three.classList.contains('first')).toBe(true);
    state.loadOlder();
    expect(last()).toMatchObject({ type: 'history', before: 3 });
    event({
      v: 2,
      type: 'history',
      ref: last().ref,
      room: 'general',
      messages: [said(1, 'carol'), said(2)],
      head: 4,
      hasMore: false,
    });
    draw('older');
    expect(shape()).toEqual([expect.stringMatching(/^d /), 'm1', 'm2', 'm3', 'm4']);
    expect(nodes()[0]).toBe(day);
    expect(row(4)).toBe(four);
    expect(row(3)).not.toBe(three);
    expect(row(3).classList.contains('first')).toBe(false);
    expect(row(3).querySelector('.avatar')).toBeNull();
    expect(row(2).classList.contains('first')).toBe(true);
  });

  it("puts the grouping right when a neighbour arrives: in the author's group, or a new one after a while", () => {
    const { draw, event } = setup([said(1), said(2, 'carol')]);
    const [one, two] = [row(1), row(2)];
    event(message(said(3, 'carol')));
    event(message(said(4, 'carol', DAY1 + 3000 + GROUP_MS + 1)));
    draw();
    expect(row(1)).toBe(one);
    expect(row(2)).toBe(two);
    expect(row(3).classList.contains('first')).toBe(false);
    expect(row(4).classList.contains('first')).toBe(true);
  });

  it('adds a day separator before the first message of a new day, keeping the rows before it', () => {
    const { draw, event } = setup([said(1), said(2)]);
    const before = nodes();
    event(message(said(3, 'bob', DAY2)));
    draw();
    expect(shape()).toEqual([expect.stringMatching(/^d /), 'm1', 'm2', expect.stringMatching(/^d /), 'm3']);
    for (const [i, node] of before.entries()) expect(nodes()[i]).toBe(node);
    // A new day starts a group, even for the same author within minutes.
    expect(row(3).classList.contains('first')).toBe(true);
    expect(nodes()[3].textContent).not.toBe(nodes()[0].textContent);
  });

  it('keeps an unsent message while another message comes, and draws it again once refused', () => {
    const { draw, event, items } = setup([said(1, 'alice'), said(2, 'carol')]);
    items.push({ id: 'out1', room: 'general', text: 'on its way' });
    draw();
    const pending = nodes().at(-1) as HTMLElement;
    expect(pending.dataset.pending).toBe('out1');
    expect(pending.textContent).toContain('sending…');
    const one = row(1);
    event(message(said(3, 'carol')));
    draw();
    expect(row(1)).toBe(one);
    expect(nodes().at(-1)).toBe(pending);
    items[0] = { ...items[0], failed: { code: 'too_long', message: 'too long' } };
    draw();
    const failed = nodes().at(-1) as HTMLElement;
    expect(failed).not.toBe(pending);
    expect(failed.classList.contains('failed')).toBe(true);
    expect(failed.textContent).toContain('not sent');
    expect(row(1)).toBe(one);
  });

  it('asks "delete?" in its row alone, and draws it back after Cancel', () => {
    const { draw } = setup([said(1, 'alice'), said(2, 'carol')]);
    const two = row(2);
    (row(1).querySelector('.tool.delete') as HTMLElement).click();
    expect(row(1).querySelector('.question')?.textContent).toBe('Delete this message?');
    expect(document.activeElement?.classList.contains('cancel-delete')).toBe(true);
    expect(row(2)).toBe(two);
    (row(1).querySelector('.cancel-delete') as HTMLElement).click();
    expect(row(1).querySelector('.question')).toBeNull();
    expect(row(1).querySelector('.tool.delete')).not.toBeNull();
    expect(row(2)).toBe(two);
    draw();
    expect(row(2)).toBe(two);
  });
});

describe('a kept row is found by its message object, not by reading every message', () => {
  /** The list without what the scroll and the idle steps mark (they differ between two draws). */
  const drawnAs = () => {
    const copy = list().cloneNode(true) as HTMLElement;
    for (const li of copy.querySelectorAll<HTMLElement>('[data-near], [data-laid]')) {
      delete li.dataset.near;
      delete li.dataset.laid;
    }
    return copy.innerHTML;
  };
  /** The list as a first draw makes it from the same state (another set of actions starts afresh). */
  const drawnAfresh = (state: ChatState, items: Pending[]) => {
    renderMessages(state, { items } as unknown as Outbox, { ...actions }, 'older');
    return drawnAs();
  };

  it('draws again a message the state replaced, though it reads the same; keeps the others', () => {
    const { state, draw } = setup([said(1), said(2, 'carol'), said(3, 'dave')]);
    const [one, two, three] = [row(1), row(2), row(3)];
    const messages = state.rooms.get('general')?.messages as Map<number, ChatMessage>;
    messages.set(2, { ...(messages.get(2) as ChatMessage) });
    draw();
    expect(row(2)).not.toBe(two);
    expect(row(1)).toBe(one);
    expect(row(3)).toBe(three);
  });

  it('reads none of the messages it keeps: a new message in a room of 300 stringifies none', () => {
    const many = Array.from({ length: 300 }, (_, i) => said(i + 1, i % 3 ? 'bob' : 'carol'));
    const { draw, event } = setup(many);
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      event(message(said(301, 'dave')));
      draw();
      const ofMessages = stringify.mock.calls.filter(
        ([value]) => typeof value === 'object' && 'seq' in value,
      );
      expect(ofMessages).toEqual([]);
    } finally {
      stringify.mockRestore();
    }
    expect(row(301).textContent).toContain('text 301');
  });

  it('draws after each change what a first draw draws: days, groups, the unread line, quotes', () => {
    // Two days; bob's group of 3, carol's of 2 (one replying to bob's 3) on the first; the unread
    // line before carol's 4; older messages to come.
    const { state, draw, event, last, items } = setup(
      [
        said(3),
        said(4, 'carol'),
        { ...said(5, 'carol'), reply: { seq: 3, user: 'bob', text: 'text 3' } },
        said(6, 'bob', DAY2),
        said(7, 'alice', DAY2 + 1000),
      ],
      true,
    );
    const room = state.rooms.get('general') as NonNullable<ReturnType<typeof state.rooms.get>>;
    room.firstUnread = 4;
    draw();
    expect(shape()).toEqual([
      expect.stringMatching(/^d /),
      'm3',
      'u',
      'm4',
      'm5',
      expect.stringMatching(/^d /),
      'm6',
      'm7',
    ]);
    const changes: [string, () => void, number[]][] = [
      [
        'a reaction',
        () =>
          event({
            v: 2,
            type: 'reacted',
            room: 'general',
            seq: 8,
            target: 4,
            user: 'bob',
            emoji: '👍',
            on: true,
            ts: DAY2,
          }),
        [4],
      ],
      [
        'an edit (its reply quotes it)',
        () =>
          event({
            v: 2,
            type: 'edited',
            room: 'general',
            seq: 9,
            target: 3,
            user: 'bob',
            text: 'new 3',
            ts: DAY2,
          }),
        [3, 5],
      ],
      [
        'a deletion',
        () => event({ v: 2, type: 'deleted', room: 'general', seq: 10, target: 4, user: 'carol', ts: DAY2 }),
        [4],
      ],
      [
        'an older page (bob 2 joins 3 in a group)',
        () => {
          state.loadOlder();
          event({
            v: 2,
            type: 'history',
            ref: last().ref,
            room: 'general',
            messages: [said(1, 'carol'), said(2)],
            head: 10,
            hasMore: false,
          });
        },
        [1, 2, 3],
      ],
    ];
    for (const [what, change, redrawn] of changes) {
      // From a first draw: only the rows of the messages changed (or regrouped) are new nodes.
      draw();
      const before = new Map(
        [...list().querySelectorAll<HTMLElement>('li.message')].map((li) => [Number(li.dataset.seq), li]),
      );
      const others = [...list().children].filter((li) => !li.classList.contains('message'));
      change();
      draw(what.startsWith('an older') ? 'older' : 'update');
      const drawn = drawnAs();
      for (const [seq, li] of before)
        if (redrawn.includes(seq)) expect(row(seq), `${what}: ${seq} drawn again`).not.toBe(li);
        else expect(row(seq), `${what}: ${seq} kept`).toBe(li);
      for (const li of others) expect(li.isConnected, `${what}: ${li.className} kept`).toBe(true);
      expect(drawn, what).toBe(drawnAfresh(state, items));
    }
    expect(shape()).toEqual([
      expect.stringMatching(/^d /),
      'm1',
      'm2',
      'm3',
      'u',
      'm4',
      'm5',
      expect.stringMatching(/^d /),
      'm6',
      'm7',
    ]);
    expect(row(2).classList.contains('first')).toBe(true);
    expect(row(3).classList.contains('first')).toBe(false);
    expect(row(4).textContent).toContain('message deleted');
    expect(row(5).querySelector('.reply-text')?.textContent).toBe('new 3');
  });
});

describe('a long conversation drawn the first time', () => {
  /** bob's messages 1..n, a minute apart. */
  const many = (n: number) => Array.from({ length: n }, (_, i) => said(i + 1, 'bob', DAY1 + i * 60_000));
  /** The messages laid out though out of sight (style.css: content-visibility), by seq. */
  const near = () =>
    [...list().querySelectorAll<HTMLElement>('li.message[data-near]')].map((li) => Number(li.dataset.seq));
  /** The conversation's box as tall as `px` (happy-dom lays nothing out: 0 else). */
  const viewOf = (px: number) =>
    Object.defineProperty(document.getElementById('messages'), 'clientHeight', { value: px });

  it('puts its rows in at once, each once; a change puts in its row alone', () => {
    const { draw, event } = setup(many(100));
    const observer = new MutationObserver(() => {});
    observer.observe(list(), { childList: true });
    event({ v: 2, type: 'message', message: said(101, 'carol', DAY1 + 100 * 60_000) });
    draw();
    const records = observer.takeRecords();
    expect(records.flatMap((r) => [...r.addedNodes])).toEqual([row(101)]);
    expect(records.flatMap((r) => [...r.removedNodes])).toEqual([]);
    observer.disconnect();
    // A first draw (a new page: another room's rows, then this one's again): every row goes in
    // with one insertion (a fragment), not one each (3,300 after a search's jump ten pages back).
    document.body.innerHTML = PAGE;
    const inserted: Node[] = [];
    const into = list();
    const insert = into.insertBefore.bind(into);
    into.insertBefore = <T extends Node>(node: T, child: Node | null): T => {
      inserted.push(node);
      return insert(node, child);
    };
    draw();
    expect(nodes()).toHaveLength(102); // a day and 101 messages
    expect(inserted).toHaveLength(1);
    expect(inserted[0].nodeType).toBe(Node.DOCUMENT_FRAGMENT_NODE);
  });

  it('lays out the messages it scrolls to first: the end, a message shown; those before go back', () => {
    const { draw, event } = setup(many(40));
    // The first draw went to the end: its last messages (as many as the box can show, 2 and 2
    // more with no height here) are laid out before the scroll is measured.
    expect(near()).toEqual([39, 40]);
    viewOf(96); // 4 rows of at least 24 px, and 2 more: 6
    event({ v: 2, type: 'message', message: said(41, 'carol', DAY1 + 40 * 60_000) });
    draw();
    expect(near()).toEqual([36, 37, 38, 39, 40, 41]);
    // A reply's original: the messages around it, 6 before (as far as there are) and 6 after.
    showMessage(5);
    expect(near()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(row(5).classList.contains('flash')).toBe(true);
    // Kept rows: those marked are the same nodes, marked or not.
    const five = row(5);
    event({ v: 2, type: 'message', message: said(42, 'carol', DAY1 + 41 * 60_000) });
    draw();
    expect(row(5)).toBe(five);
    expect(near()).toEqual([37, 38, 39, 40, 41, 42]);
  });
});

describe('a long conversation laid out in the background', () => {
  /** bob's messages 1..n in `room`, a minute apart. */
  const many = (n: number, room = 'general') =>
    Array.from({ length: n }, (_, i) => ({ ...said(i + 1, 'bob', DAY1 + i * 60_000), room }));
  /** The idle steps asked for and not run or cancelled, by id; the test runs them. */
  const idle = new Map<number, (deadline: { timeRemaining(): number; didTimeout: boolean }) => void>();
  let ids = 0;
  /**
   * What a step takes: the page's clock goes on by `fixed` at each reading (a step reads it at its
   * start and end) and by `perRow` for each row laid out. Eighths: the sums are exact.
   */
  let fixed = 2;
  let perRow = 0.125;
  let readings = 0;
  /** Runs the first idle step waiting, with `left` ms left before its deadline. */
  const runIdle = (left = 30, didTimeout = false) => {
    const [id, step] = [...idle][0];
    idle.delete(id);
    step({ didTimeout, timeRemaining: () => left });
  };
  const laid = (room = list()) =>
    [...room.querySelectorAll<HTMLElement>('li.message[data-laid]')].map((li) => Number(li.dataset.seq));
  const seqs = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  /** How many rows each step run laid out. */
  const steps = (...lefts: number[]) =>
    lefts.map((left) => {
      const before = laid().length;
      runIdle(left);
      return laid().length - before;
    });

  beforeEach(() => {
    idle.clear();
    fixed = 2;
    perRow = 0.125;
    readings = 0;
    setPageClock({
      now: () => ++readings * fixed + document.querySelectorAll('li.message[data-laid]').length * perRow,
      idle: (step) => {
        const id = ++ids;
        idle.set(id, step);
        return () => idle.delete(id);
      },
      frame: () => () => {},
    });
  });
  afterEach(() => setPageClock(null));

  it('lays out every message row a batch at a time once the page is idle; a new row gets the same', () => {
    const { draw, event } = setup(many(700));
    // The first draw lays out none itself (content-visibility: auto): one step waits for idle.
    expect(laid()).toEqual([]);
    expect(idle.size).toBe(1);
    // 30 ms left each: 200 rows at the first guess (0.15 ms a row); the 27 ms they took counted
    // per row (0.135), 222; then, from the two, 2 ms a step and 0.125 a row: 224; the rest.
    runIdle();
    expect(laid()).toHaveLength(200);
    expect(idle.size).toBe(1);
    runIdle();
    expect(laid()).toHaveLength(422);
    runIdle();
    expect(laid()).toHaveLength(646);
    runIdle();
    expect(laid()).toEqual(seqs(1, 700));
    runIdle(); // nothing left: no step after it
    expect(idle.size).toBe(0);
    // A new message: its row starts as any other, then is laid out; the others stay laid out.
    event({ v: 2, type: 'message', message: said(701, 'carol', DAY1 + 700 * 60_000) });
    draw();
    expect(row(701).dataset.laid).toBeUndefined();
    expect(idle.size).toBe(1);
    runIdle();
    expect(laid()).toEqual(seqs(1, 701));
  });

  it("sizes each step by its deadline's time left and what the steps before took", () => {
    setup(many(700));
    // No measure yet: the first guess, 0.15 ms a row (5 ms left: 33 rows), which took 6.125 ms:
    // 0.186 a row. 40 ms left: 215, which took 28.875: with the step before, 2 ms a step and 0.125
    // a row. Then 5 ms left lay out 24 rows, none left (or the deadline passed) the fewest, 20.
    expect(steps(5, 40, 5, 0)).toEqual([33, 215, 24, LAY_OUT_MIN]);
    // A slower machine (or a busier one): 0.5 ms a row. The fewest measure it: 40 ms lay out 76.
    perRow = 0.5;
    expect(steps(0, 40)).toEqual([LAY_OUT_MIN, 76]);
    runIdle(0, true);
    expect(laid()).toHaveLength(33 + 215 + 24 + LAY_OUT_MIN + LAY_OUT_MIN + 76 + LAY_OUT_MIN);
    // The rest, however short the time: the steps get to the end.
    while (idle.size > 0) runIdle(0);
    expect(laid()).toEqual(seqs(1, 700));
  });

  it('makes no step so small that its fixed part costs more than its rows', () => {
    // Each step pays 10 ms whatever its size (the layout of the whole list) and 0.125 ms a row.
    fixed = 10;
    setup(many(700));
    // The first guess (5 ms left: 33 rows) took 14.125 ms; 40 ms left: 93, which took 21.625:
    // from the two, 10 ms a step and 0.125 a row. Then 5 ms or none left: 80 rows, the 10 ms of
    // the step's own, not the fewest (20), which would spend a third of the time on the rows.
    expect(steps(5, 40, 5, 0)).toEqual([33, 93, 80, 80]);
    while (idle.size > 0) runIdle(0);
    expect(laid()).toEqual(seqs(1, 700));
  });

  it('measures the fixed part where every idle period is too short: one step of more rows tells it', () => {
    // 10 ms a step whatever its size, 0.125 ms a row, and never any time left (the benchmark's
    // short idle periods): steps of the fewest rows alone never told the two parts apart.
    fixed = 10;
    setup(many(700));
    // The fewest, twice (all of it counted per row); then 20 more rows, and from the two sizes
    // 10 ms a step and 0.125 a row: 80 rows, the least size for that fixed part.
    expect(steps(0, 0, 0, 0, 0)).toEqual([LAY_OUT_MIN, LAY_OUT_MIN, 2 * LAY_OUT_MIN, 80, 80]);
    while (idle.size > 0) runIdle(0);
    expect(laid()).toEqual(seqs(1, 700));
  });

  it('finds the message read among the rows it lists: no second list of them, no search by seq', () => {
    setup(many(700));
    // Each a look through the 700 rows (~3 ms of the step's fixed part in a room of 3,400).
    const all = vi.spyOn(list(), 'querySelectorAll');
    const one = vi.spyOn(list(), 'querySelector');
    runIdle();
    expect([all.mock.calls.length, one.mock.calls.length]).toEqual([0, 0]);
    expect(laid()).toHaveLength(200);
  });

  it('a room switch cancels the steps for the rows of the room left', () => {
    const { state, draw, last } = setup(many(700));
    runIdle();
    const before = list().querySelectorAll<HTMLElement>('li.message');
    expect(laid()).toHaveLength(200);
    state.receive({
      v: 2,
      type: 'welcome',
      invitations: [],
      blocked: [],
      user: 'alice',
      rooms: ['general', 'other'].map((room) => ({
        room,
        kind: 'public' as const,
        owner: null,
        head: 700,
        unread: 0,
        mentions: 0,
        online: [],
      })),
      limits: DEFAULT_LIMITS,
    });
    state.open('other');
    const ref = last().ref;
    state.receive({
      v: 2,
      type: 'history',
      ref,
      room: 'other',
      messages: many(700, 'other'),
      head: 700,
      hasMore: false,
    });
    draw();
    // The step for general's rows is gone; the one waiting is other's, from its first row.
    expect(idle.size).toBe(1);
    expect(laid()).toEqual([]);
    runIdle(); // at the cost general's step measured (0.135 ms a row)
    expect(laid()).toHaveLength(222);
    while (idle.size > 0) runIdle();
    expect(laid()).toEqual(seqs(1, 700));
    expect([...before].filter((li) => li.dataset.laid !== undefined)).toHaveLength(200);
  });
});

describe('a new message at the end: the reader stays at the end, the layout read before the rows change', () => {
  /** The frames' callbacks asked for and not run or cancelled; the test runs them. */
  let frames: (() => void)[] = [];
  /** The number of rows in the list at each read of the conversation's scrollHeight (a layout). */
  let reads: number[] = [];
  const box = () => document.getElementById('messages') as HTMLElement;
  /** The conversation 200 px tall, each of its rows 20 px: the end is at rows × 20 − 200. */
  const measured = () => {
    Object.defineProperty(box(), 'clientHeight', { configurable: true, get: () => 200 });
    Object.defineProperty(box(), 'scrollHeight', {
      configurable: true,
      get: () => {
        reads.push(list().children.length);
        return list().children.length * 20;
      },
    });
  };
  const jump = () => document.getElementById('jump-latest') as HTMLElement;
  const count = () => document.getElementById('jump-count')?.textContent;
  const bobs = (n: number) => Array.from({ length: n }, (_, i) => said(i + 1));

  beforeEach(() => {
    frames = [];
    reads = [];
    setPageClock({
      idle: () => () => {},
      frame: (step) => {
        frames.push(step);
        return () => {
          frames = frames.filter((f) => f !== step);
        };
      },
    });
  });
  afterEach(() => setPageClock(null));

  it('scrolls to the end in the next frame, reading no layout once its row is in; one scrolled up stays', () => {
    const { state, draw, event } = setup(bobs(30));
    measured();
    box().scrollTop = 30 * 20 + 20 - 200; // the day and 30 messages: at the end
    reads = [];
    event(message(said(31, 'carol')));
    draw();
    // Read before the new row went in (where the reader was), not after: no layout in the call.
    expect(new Set(reads)).toEqual(new Set([31])); // the day and 30 messages
    expect(frames).toHaveLength(1);
    expect(jump().hidden).toBe(true);
    // Another one before the frame: the reader is at the end still; one scroll, in that frame.
    reads = [];
    event(message(said(32, 'carol')));
    draw();
    expect(reads).toEqual([]);
    expect(frames).toHaveLength(1);
    frames.shift()?.();
    expect(box().scrollTop).toBe(33 * 20); // the day and 32 messages
    expect(jump().hidden).toBe(true);
    expect(count()).toBe('');
    // Scrolled up: left where they are, with "jump to latest" and its count.
    box().scrollTop = 100;
    onConversationScroll(state);
    event(message(said(33, 'carol')));
    draw();
    expect(frames).toEqual([]);
    expect(box().scrollTop).toBe(100);
    expect(jump().hidden).toBe(false);
    expect(count()).toBe('1 new message · ');
  });

  it('leaves a reader who scrolls up in the frame a message came where they went, with "jump to latest"', () => {
    const { state, draw, event } = setup(bobs(30));
    measured();
    box().scrollTop = 30 * 20 + 20 - 200; // at the end
    event(message(said(31, 'carol')));
    draw();
    expect(frames).toHaveLength(1);
    // Before the frame, the reader scrolls up: the scroll to the end goes, the message is counted.
    box().scrollTop = 300;
    onConversationScroll(state);
    expect(frames).toEqual([]);
    expect(box().scrollTop).toBe(300);
    expect(jump().hidden).toBe(false);
    expect(count()).toBe('1 new message · ');
    // The next one is counted as any other while scrolled back.
    event(message(said(32, 'carol')));
    draw();
    expect(frames).toEqual([]);
    expect(box().scrollTop).toBe(300);
    expect(count()).toBe('2 new messages · ');
  });

  it('checks in the frame that the reader is at the end still: a scroll not yet told keeps them there', () => {
    const { draw, event } = setup(bobs(30));
    measured();
    box().scrollTop = 30 * 20 + 20 - 200;
    event(message(said(31, 'carol')));
    draw();
    event(message(said(32, 'alice'))); // one's own, from another tab: not counted
    draw();
    box().scrollTop = 250; // no scroll event yet
    frames.shift()?.();
    expect(box().scrollTop).toBe(250);
    expect(jump().hidden).toBe(false);
    expect(count()).toBe('1 new message · ');
  });

  it('goes to the end when the view went up only as far as the end did (rows got shorter)', () => {
    const { state, draw, event } = setup(bobs(30));
    measured();
    box().scrollTop = 30 * 20 + 20 - 200; // at the end: 420
    event(message(said(31, 'carol')));
    draw();
    // The rows now 40 px shorter than they were (an unsent one drawn as sent, say): the browser
    // brings the view up with the end, and says so by a scroll event.
    Object.defineProperty(box(), 'scrollHeight', { configurable: true, get: () => 600 });
    box().scrollTop = 400;
    onConversationScroll(state);
    expect(frames).toHaveLength(1);
    frames.shift()?.();
    expect(box().scrollTop).toBe(600);
    expect(jump().hidden).toBe(true);
    expect(count()).toBe('');
  });

  it('drops the scroll to the end when the reader turns the wheel up or presses a key up before it', () => {
    const { draw, event } = setup(bobs(30));
    measured();
    box().scrollTop = 30 * 20 + 20 - 200;
    event(message(said(31, 'carol')));
    draw();
    expect(frames).toHaveLength(1);
    readerMovesUp(); // main.ts: a wheel up, ↑, PageUp or Home in the conversation
    expect(frames).toEqual([]);
    expect(jump().hidden).toBe(false);
    expect(count()).toBe('1 new message · ');
  });

  it("takes one's own message to the end in the next frame, wherever the reader is, reading no layout", () => {
    const { state, draw, items } = setup(bobs(30));
    measured();
    box().scrollTop = 100; // scrolled up
    onConversationScroll(state);
    reads = [];
    // The composer's send (main.ts): the draw the outbox's change causes.
    followOwnMessage();
    items.push({ id: 'out1', room: 'general', text: 'mine' });
    draw();
    expect(reads).toEqual([]);
    expect(frames).toHaveLength(1);
    expect(jump().hidden).toBe(true);
    // Moving up meanwhile does not keep one's own message out of sight.
    box().scrollTop = 50;
    onConversationScroll(state);
    readerMovesUp();
    expect(frames).toHaveLength(1);
    frames.shift()?.();
    expect(box().scrollTop).toBe(32 * 20); // the day, 30 messages and the unsent one
    expect(jump().hidden).toBe(true);
  });

  it('a room switch cancels the scroll to the end of the room left', () => {
    const { draw, event } = setup(bobs(30));
    measured();
    box().scrollTop = 30 * 20 + 20 - 200;
    event(message(said(31, 'carol')));
    draw();
    expect(frames).toHaveLength(1);
    document.body.innerHTML = PAGE; // another list: drawn afresh
    draw();
    expect(frames).toHaveLength(0);
  });
});

describe("a message's tools are named by whose message it is and what it says", () => {
  const names = (seq: number) =>
    [...row(seq).querySelectorAll<HTMLElement>('.actions .tool')].map((b) => b.getAttribute('aria-label'));

  it('says the author and the start of the text, "your message" for one\'s own', () => {
    const long = {
      ...said(2, 'alice'),
      text: 'The **quarterly** numbers are in: see the sheet before Friday please',
    };
    setup([{ ...said(1), text: 'lunch at noon?' }, long]);
    expect(names(1)).toEqual([
      "React to bob's message: lunch at noon?",
      "Reply to bob's message: lunch at noon?",
    ]);
    expect(names(2)).toEqual([
      'React to your message: The quarterly numbers are in: see the…',
      'Reply to your message: The quarterly numbers are in: see the…',
      'Edit your message: The quarterly numbers are in: see the…',
      'Delete your message: The quarterly numbers are in: see the…',
    ]);
    // The title (the tooltip) says the same.
    expect(row(1).querySelector<HTMLElement>('.tool.reply')?.title).toBe(
      "Reply to bob's message: lunch at noon?",
    );
  });

  it("offers a server admin Delete (not Edit) on another's message in a public room, and sends it", () => {
    const removed: ChatMessage[] = [];
    const original = actions.remove;
    actions.remove = (message) => removed.push(message);
    try {
      setup([{ ...said(1), text: 'buy now' }], false, { admin: true });
      expect(names(1)).toEqual([
        "React to bob's message: buy now",
        "Reply to bob's message: buy now",
        "Delete bob's message: buy now",
      ]);
      (row(1).querySelector('.tool.delete') as HTMLElement).click();
      expect(row(1).querySelector('.question')?.textContent).toBe('Delete this message?');
      (row(1).querySelector('.tool.confirm-delete') as HTMLElement).click();
      expect(removed.map((m) => m.seq)).toEqual([1]);
    } finally {
      actions.remove = original;
    }
  });

  it('names the row again when its text is edited (the row is drawn anew)', () => {
    const { draw, event } = setup([{ ...said(1), text: 'lunch at noon?' }, said(2, 'carol')]);
    const two = row(2);
    event({
      v: 2,
      type: 'edited',
      room: 'general',
      seq: 3,
      target: 1,
      user: 'bob',
      text: 'lunch at one instead',
      ts: DAY1 + 5000,
    });
    draw();
    expect(names(1)).toEqual([
      "React to bob's message: lunch at one instead",
      "Reply to bob's message: lunch at one instead",
    ]);
    expect(row(2)).toBe(two);
  });

  it('says when a message has only files', () => {
    const file = (name: string) => ({ id: name.replace('.', '_'), name, type: 'image/png', size: 10 });
    const one: ChatMessage = { ...said(1), text: '', attachments: [file('photo.png')] };
    const two: ChatMessage = { ...said(2, 'alice'), text: '', attachments: [file('a.png'), file('b.png')] };
    expect(messageName(one, 'alice')).toBe("bob's message, a file only: photo.png");
    expect(messageName(two, 'alice')).toBe('your message, 2 files only: a.png, b.png');
  });

  it('cuts the excerpt between graphemes, never inside an emoji or a surrogate pair', () => {
    // 38 letters, then a family emoji (7 code units: 4 people joined) and a flag (4 code units).
    const text = `${'a'.repeat(38)}👨‍👩‍👧‍👦🇫🇷 the rest`;
    const cut = excerpt(text);
    expect(cut).toBe(`${'a'.repeat(38)}…`);
    expect(excerpt(`${'a'.repeat(30)}😀😀😀😀😀😀`)).toBe(`${'a'.repeat(30)}😀😀😀😀…`);
    expect(excerpt('  short\n\n text  ')).toBe('short text');
    for (const s of [cut, excerpt(`${'b'.repeat(39)}😀x`)]) {
      expect(s.length).toBeLessThanOrEqual(40);
      // No lone half of a surrogate pair.
      expect(s).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
    }
  });
});
