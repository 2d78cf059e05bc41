/**
 * What an uploaded file is, decided from its bytes only (never from its name or the request's
 * Content-Type): the four raster image formats browsers show (PNG, JPEG, GIF, WebP), with their
 * dimensions read from the header; PDF; UTF-8 text; anything else is opaque bytes.
 *
 * An HTML or SVG file is UTF-8 text, so it is `text/plain` here: it is served as text, and as an
 * attachment to download (http/attachments.ts), never as a document a browser would run.
 * An image whose header cannot be read (truncated, zero or absurd dimensions) is not an image.
 */

export type Sniffed =
  | {
      kind: 'image';
      type: 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';
      width: number;
      height: number;
    }
  | { kind: 'file'; type: 'application/pdf' | 'text/plain' | 'application/octet-stream' };

/** Larger sides are refused as images (decompression bombs: 30000 x 30000 is 3.6 GB of pixels). */
const MAX_SIDE = 16_384;

const starts = (b: Buffer, bytes: number[], at = 0) => bytes.every((x, i) => b[at + i] === x);
const ascii = (b: Buffer, text: string, at = 0) =>
  b.length >= at + text.length && b.toString('latin1', at, at + text.length) === text;

function image(
  type: Extract<Sniffed, { kind: 'image' }>['type'],
  width: number,
  height: number,
): Sniffed | null {
  if (!(width >= 1 && height >= 1 && width <= MAX_SIDE && height <= MAX_SIDE)) return null;
  return { kind: 'image', type, width, height };
}

function png(b: Buffer): Sniffed | null {
  // PNG signature, then the IHDR chunk first (length 13): width and height, big-endian.
  if (b.length < 24 || !ascii(b, 'IHDR', 12)) return null;
  return image('image/png', b.readUInt32BE(16), b.readUInt32BE(20));
}

function gif(b: Buffer): Sniffed | null {
  if (b.length < 10) return null;
  return image('image/gif', b.readUInt16LE(6), b.readUInt16LE(8));
}

function jpeg(b: Buffer): Sniffed | null {
  // Walk the segments to the first start-of-frame (SOF0-SOF15 but DHT C4, JPG C8, DAC CC).
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      i += 2; // markers without a length
      continue;
    }
    const length = b.readUInt16BE(i + 2);
    if (length < 2) return null;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > b.length) return null;
      return image('image/jpeg', b.readUInt16BE(i + 7), b.readUInt16BE(i + 5));
    }
    if (marker === 0xda || marker === 0xd9) return null; // scan data or end before any frame
    i += 2 + length;
  }
  return null;
}

function webp(b: Buffer): Sniffed | null {
  if (b.length < 30) return null;
  const chunk = b.toString('latin1', 12, 16);
  if (chunk === 'VP8 ') {
    // A key frame: start code 9d 01 2a, then 14-bit width and height.
    if (!starts(b, [0x9d, 0x01, 0x2a], 23)) return null;
    return image('image/webp', b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff);
  }
  if (chunk === 'VP8L') {
    if (b[20] !== 0x2f) return null;
    const bits = b.readUInt32LE(21);
    return image('image/webp', (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
  }
  if (chunk === 'VP8X') return image('image/webp', b.readUIntLE(24, 3) + 1, b.readUIntLE(27, 3) + 1);
  return null;
}

function isUtf8Text(b: Buffer): boolean {
  // Text: valid UTF-8 without NUL or other C0 controls than tab, line feed, form feed, return, escape.
  for (const byte of b)
    if (byte < 0x20 && byte !== 9 && byte !== 10 && byte !== 12 && byte !== 13 && byte !== 27) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
}

export function sniff(bytes: Buffer): Sniffed {
  let found: Sniffed | null = null;
  if (starts(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) found = png(bytes);
  else if (starts(bytes, [0xff, 0xd8, 0xff])) found = jpeg(bytes);
  else if (ascii(bytes, 'GIF87a') || ascii(bytes, 'GIF89a')) found = gif(bytes);
  else if (ascii(bytes, 'RIFF') && ascii(bytes, 'WEBP', 8)) found = webp(bytes);
  if (found) return found;
  if (ascii(bytes, '%PDF-')) return { kind: 'file', type: 'application/pdf' };
  if (bytes.length > 0 && isUtf8Text(bytes)) return { kind: 'file', type: 'text/plain' };
  return { kind: 'file', type: 'application/octet-stream' };
}
