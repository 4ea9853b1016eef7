/**
 * A string's UTF-8 bytes in an allocation of their own, for bytes a cache keeps: Buffer.from would slice a body
 * under 4 KB out of Node's shared 8 KB pool, and a kept slice pins the whole slab (with whatever else was cut
 * from it). A 2 KB product detail kept in the local catalog cache held ~3x its size: 8 MB of entries were
 * 24 MB of ArrayBuffers.
 */
export function keptBytes(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text);
  return bytes;
}
