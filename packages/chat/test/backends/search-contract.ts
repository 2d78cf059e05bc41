/**
 * The search contract (ports.ts: MessageSearch), written once and run against every backend:
 * test/backends/sqlite/search.test.ts (FTS5) and test/redis/search.test.ts (a bounded scan).
 */
import { describe, expect, it } from 'vitest';
import type { MessageSearch, RoomStore } from '../../src/server/ports.js';
import { parseQuery, type SearchTerm } from '../../src/server/search/terms.js';
import type { SearchHit } from '../../src/shared/protocol.js';
import { asMembers } from './members.js';

export interface SearchUnderTest {
  rooms: RoomStore;
  search: MessageSearch;
}

const quotas = { maxRooms: 100, maxOwnedRooms: 100 };

function terms(query: string): SearchTerm[] {
  const parsed = parseQuery(query);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

async function setUp(open: () => Promise<SearchUnderTest>, rooms: string[]) {
  const opened = await open();
  const s = { ...opened, rooms: asMembers(opened.rooms) };
  for (const name of rooms)
    await s.rooms.createRoom({ name, kind: 'public', owner: 'x', createdAt: 0 }, quotas);
  let n = 0;
  const say = async (room: string, user: string, text: string, ts: number) => {
    const r = await s.rooms.appendEvent({ type: 'message', room, user, clientId: `c${++n}`, text, ts });
    if (!r.ok || r.event.type !== 'message') throw new Error('append failed');
    return r.event.message.seq;
  };
  return { ...s, say };
}

const brief = (hits: SearchHit[]) => hits.map((h) => `${h.room}/${h.seq}`);

export function searchContract(name: string, open: () => Promise<SearchUnderTest>): void {
  describe(`${name}: the search contract`, () => {
    it('finds a word typed with a decomposed accent, highlighted whole (regression: split at the mark)', async () => {
      const { search, say } = await setUp(open, ['a']);
      await say('a', 'ann', 'l\u2019e\u0301cole ferme\u0301e', 1000);
      await say('a', 'ben', 'la cole', 2000);
      expect(await search.search(['a'], terms('ECOLE fermee'), undefined, 10)).toEqual({
        hits: [
          {
            room: 'a',
            seq: 1,
            user: 'ann',
            text: 'l\u2019e\u0301cole ferme\u0301e',
            ts: 1000,
            ranges: [
              [2, 8],
              [9, 16],
            ],
          },
        ],
      });
      expect(brief((await search.search(['a'], terms('cole'), undefined, 10))!.hits)).toEqual(['a/2']);
    });

    it('folds compatibility forms and case fully: the same table on every backend', async () => {
      const { search, say } = await setUp(open, ['a']);
      await say('a', 'ann', 'Die Straße ist lang', 1);
      await say('a', 'ann', 'DIE STRASSE', 2);
      await say('a', 'ann', '\ufb01le and \ufb00', 3);
      await say('a', 'ann', '\uff21\uff22\uff23 news', 4);
      await say('a', 'ann', 'Mädchen im Café', 5);
      await say('a', 'ann', 'Maedchen', 6);
      await say('a', 'ann', 'ΟΔΟΣ ΟΔΟΣΜΟΣ', 7);
      // query -> [seq, ranges] of each hit, newest first
      const table: [string, [number, [number, number][]][]][] = [
        [
          'strasse',
          [
            [2, [[4, 11]]],
            [1, [[4, 10]]],
          ],
        ],
        [
          'STRAẞE',
          [
            [2, [[4, 11]]],
            [1, [[4, 10]]],
          ],
        ],
        [
          'straße',
          [
            [2, [[4, 11]]],
            [1, [[4, 10]]],
          ],
        ],
        ['file', [[3, [[0, 3]]]]],
        ['ff', [[3, [[8, 9]]]]],
        ['abc', [[4, [[0, 3]]]]],
        ['ＡＢＣ', [[4, [[0, 3]]]]],
        ['madchen', [[5, [[0, 7]]]]],
        ['maedchen', [[6, [[0, 8]]]]],
        ['CAFE', [[5, [[11, 15]]]]],
        [
          'οδοσ',
          [
            [
              7,
              [
                [0, 4],
                [5, 12],
              ],
            ],
          ],
        ],
        [
          'οδος',
          [
            [
              7,
              [
                [0, 4],
                [5, 12],
              ],
            ],
          ],
        ],
      ];
      for (const [query, expected] of table) {
        const page = await search.search(['a'], terms(query), undefined, 10);
        expect(
          page!.hits.map((h) => [h.seq, h.ranges]),
          query,
        ).toEqual(expected);
      }
    });

    it('finds messages containing every word, newest first across rooms, with the words to highlight', async () => {
      const { search, say } = await setUp(open, ['a', 'b']);
      await say('a', 'ann', 'Lunch at the Café tomorrow?', 1000);
      await say('b', 'ben', 'no lunch for me', 2000);
      await say('a', 'ben', 'the cafe is closed on Mondays, lunch elsewhere', 3000);
      await say('b', 'ann', 'dinner then', 4000);
      const page = await search.search(['a', 'b'], terms('LUNCH cafe'), undefined, 10);
      expect(page).toEqual({
        hits: [
          {
            room: 'a',
            seq: 2,
            user: 'ben',
            text: 'the cafe is closed on Mondays, lunch elsewhere',
            ts: 3000,
            ranges: [
              [4, 8],
              [31, 36],
            ],
          },
          {
            room: 'a',
            seq: 1,
            user: 'ann',
            text: 'Lunch at the Café tomorrow?',
            ts: 1000,
            ranges: [
              [0, 5],
              [13, 17],
            ],
          },
        ],
      });
      expect(brief((await search.search(['a', 'b'], terms('lunch'), undefined, 10))!.hits)).toEqual([
        'a/2',
        'b/1',
        'a/1',
      ]);
    });

    it('matches words beginning with a query word of two letters or more; one letter only as a whole word', async () => {
      const { search, say } = await setUp(open, ['a']);
      await say('a', 'ann', 'hello world', 1);
      await say('a', 'ann', 'plan B', 2);
      await say('a', 'ann', 'bye', 3);
      expect(brief((await search.search(['a'], terms('hel'), undefined, 10))!.hits)).toEqual(['a/1']);
      expect((await search.search(['a'], terms('hel'), undefined, 10))!.hits[0].ranges).toEqual([[0, 5]]);
      expect(brief((await search.search(['a'], terms('b'), undefined, 10))!.hits)).toEqual(['a/2']);
      expect(brief((await search.search(['a'], terms('ello'), undefined, 10))!.hits)).toEqual([]);
      expect(brief((await search.search(['a'], terms('hello planet'), undefined, 10))!.hits)).toEqual([]);
    });

    it('searches only the rooms it is given', async () => {
      const { search, say } = await setUp(open, ['a', 'secret']);
      await say('secret', 'ann', 'the launch code', 1);
      await say('a', 'ann', 'launch party', 2);
      expect(brief((await search.search(['a'], terms('launch'), undefined, 10))!.hits)).toEqual(['a/1']);
      expect(await search.search([], terms('launch'), undefined, 10)).toEqual({ hits: [] });
    });

    it('never matches a deleted message, and matches an edited one by its current text only', async () => {
      const { rooms, search, say } = await setUp(open, ['a']);
      await say('a', 'ann', 'first draft', 1);
      await say('a', 'ann', 'draft to delete', 2);
      await rooms.appendEvent({
        type: 'edit',
        room: 'a',
        user: 'ann',
        target: 1,
        text: 'final version',
        ts: 3,
      });
      await rooms.appendEvent({ type: 'delete', room: 'a', user: 'ann', target: 2, ts: 4 });
      expect((await search.search(['a'], terms('draft'), undefined, 10))!.hits).toEqual([]);
      expect((await search.search(['a'], terms('delete'), undefined, 10))!.hits).toEqual([]);
      expect((await search.search(['a'], terms('final'), undefined, 10))!.hits).toEqual([
        { room: 'a', seq: 1, user: 'ann', text: 'final version', ts: 1, ranges: [[0, 5]] },
      ]);
    });

    it('forgets the messages of a deleted room', async () => {
      const { rooms, search, say } = await setUp(open, ['a']);
      await say('a', 'ann', 'ephemeral words', 1);
      await rooms.deleteRoom('a');
      expect((await search.search(['a'], terms('ephemeral'), undefined, 10))!.hits).toEqual([]);
    });

    it('pages with `next` through every hit once, in order, and refuses a cursor it did not give', async () => {
      const { search, say } = await setUp(open, ['a', 'b']);
      const expected: string[] = [];
      for (let i = 1; i <= 7; i++) {
        const room = i % 3 === 0 ? 'b' : 'a';
        const seq = await say(room, 'ann', `item number ${i}`, 100 * i);
        await say(room, 'ann', 'noise', 100 * i + 1);
        expected.unshift(`${room}/${seq}`);
      }
      const seen: string[] = [];
      let after: string | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await search.search(['a', 'b'], terms('item'), after, 3);
        expect(page).not.toBeNull();
        expect(page!.hits.length).toBeLessThanOrEqual(3);
        seen.push(...brief(page!.hits));
        after = page!.next;
        if (after === undefined) break;
      }
      expect(seen).toEqual(expected);
      expect(await search.search(['a'], terms('item'), 'bm90IGEgY3Vyc29y', 3)).toBeNull();
      expect(await search.search(['a'], terms('item'), '%%%', 3)).toBeNull();
    });
  });
}
