/**
 * `mkdir -p` that always ends. Node 20's fs.mkdirSync(dir, { recursive: true }) spins forever
 * when a parent exists but refuses children with ENOENT, as every folder of /proc does:
 * mkdir('/proc/nope') is ENOENT, so the walk steps back and makes '/proc' (EEXIST, a folder), then
 * steps forward to '/proc/nope' again, without end. Here each folder is tried at most twice: once,
 * and once more after its parent was made; an ENOENT then is final and thrown.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** Makes `dir` and its missing parents; throws the first error that making them cannot get past. */
export function makeFolder(dir: string): void {
  if (mkdirOnce(dir) === null) return;
  const parent = dirname(dir);
  if (parent !== dir) makeFolder(parent);
  const again = mkdirOnce(dir);
  if (again !== null) throw again;
}

/** null when `dir` is a folder now; the ENOENT error when a parent is missing (or refuses). */
function mkdirOnce(dir: string): NodeJS.ErrnoException | null {
  try {
    mkdirSync(dir);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return err as NodeJS.ErrnoException;
    // Already there (made by someone else meanwhile, too): fine if it is a folder.
    if (code === 'EEXIST' && statSync(dir).isDirectory()) return null;
    throw err;
  }
}
