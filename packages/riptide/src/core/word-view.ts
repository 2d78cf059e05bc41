/**
 * One Int32Array over the whole ArrayBuffer last used, reused while the buffers come from the
 * same ArrayBuffer (all frames of one socket read, or Node's buffer pool). Masking and the ASCII
 * scan work a 32-bit word at a time through it: creating a typed-array view per frame cost a third
 * of the parse time for 64-byte messages. Large buffers are not cached, so a big message is not
 * kept alive by the cache.
 */
const CACHE_MAX_BYTES = 256 * 1024;
let cachedBuffer: ArrayBufferLike | null = null;
let cachedView: Int32Array = new Int32Array(0);

/** An Int32Array over all of `buffer` (index = byte offset >>> 2). */
export function wordView(buffer: ArrayBufferLike): Int32Array {
  if (buffer === cachedBuffer) return cachedView;
  const view = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
  if (buffer.byteLength <= CACHE_MAX_BYTES) {
    cachedBuffer = buffer;
    cachedView = view;
  }
  return view;
}
