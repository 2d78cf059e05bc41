/** A helper of the Yjs-based ecosystem tests (yjs.test.ts, hocuspocus.test.ts). */

/** What `whenDoc` needs of a Y.Doc (either of Yjs's builds: the tests may load both). */
interface UpdateSource {
  on(event: 'update', listener: () => void): void;
  off(event: 'update', listener: () => void): void;
}

/** Resolves when `check()` holds, tested now and after each update of `doc`. */
export function whenDoc(doc: UpdateSource, check: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (check()) return resolve();
    const onUpdate = () => {
      if (!check()) return;
      doc.off('update', onUpdate);
      resolve();
    };
    doc.on('update', onUpdate);
  });
}
