import { describe, expect, it } from 'vitest';
import { sniff } from '../../src/server/attachments/sniff.js';
import { gifHead, HTML_PAYLOAD, jpegHead, png, SVG_PAYLOAD, webpHead } from './files.js';

describe('sniff: the type comes from the bytes', () => {
  it('knows the four raster image formats and reads their size', () => {
    expect(sniff(png(30, 20))).toEqual({ kind: 'image', type: 'image/png', width: 30, height: 20 });
    expect(sniff(jpegHead(640, 480))).toEqual({ kind: 'image', type: 'image/jpeg', width: 640, height: 480 });
    expect(sniff(gifHead(16, 9))).toEqual({ kind: 'image', type: 'image/gif', width: 16, height: 9 });
    expect(sniff(webpHead(1000, 3))).toEqual({ kind: 'image', type: 'image/webp', width: 1000, height: 3 });
  });

  it('an image with an unreadable or absurd header is not an image', () => {
    expect(sniff(png(30, 20).subarray(0, 20)).type).toBe('application/octet-stream');
    expect(sniff(gifHead(0, 10)).type).toBe('application/octet-stream'); // a zero width, and NUL bytes
  });

  it('HTML and SVG are text, whatever their name says; PDF is PDF; the rest is bytes', () => {
    expect(sniff(Buffer.from(HTML_PAYLOAD))).toEqual({ kind: 'file', type: 'text/plain' });
    expect(sniff(Buffer.from(SVG_PAYLOAD))).toEqual({ kind: 'file', type: 'text/plain' });
    expect(sniff(Buffer.from('héllo\r\n\tworld'))).toEqual({ kind: 'file', type: 'text/plain' });
    expect(sniff(Buffer.from('%PDF-1.7\n%âãÏÓ\n'))).toEqual({ kind: 'file', type: 'application/pdf' });
    expect(sniff(Buffer.from([0x00, 0x61, 0x73, 0x6d]))).toEqual({
      kind: 'file',
      type: 'application/octet-stream',
    });
    expect(sniff(Buffer.from([0xc3, 0x28]))).toEqual({ kind: 'file', type: 'application/octet-stream' });
    // An SVG that claims to be a PNG by name only is still text.
    expect(sniff(Buffer.from(`<?xml version="1.0"?>${SVG_PAYLOAD}`)).type).toBe('text/plain');
  });

  it('refuses image sides above 16384 (decompression bombs)', () => {
    expect(sniff(gifHead(20000, 20000)).kind).toBe('file');
    expect(sniff(webpHead(16384, 16384)).kind).toBe('image');
  });
});
