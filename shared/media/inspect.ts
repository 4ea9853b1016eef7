import type { Metadata } from 'sharp';
import { DomainError } from '../errors.js';

export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;
/** 40 megapixels and 12,000 px a side: far above any product photo, far below a decompression bomb. */
export const MAX_IMAGE_PIXELS = 40_000_000;
const MAX_IMAGE_SIDE = 12_000;

const accepted = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/avif', 'image/gif']);

export class UnsupportedMediaTypeError extends DomainError {
  constructor(detail = 'Only JPEG, PNG, WebP, AVIF and GIF images are accepted') {
    super(415, 'unsupported_media_type', detail);
  }
}
export class FileTooLargeError extends DomainError {
  constructor() {
    super(413, 'file_too_large', `Images may be at most ${MAX_IMAGE_BYTES / 1024 / 1024} MB`);
  }
}

export interface ImageInfo {
  mime: string;
  width: number;
  height: number;
}

/**
 * Decides what a file is by its bytes (never its name or declared type), then reads only the header
 * for its dimensions: a pixel bomb is refused before anything decodes it.
 */
export async function inspectImage(bytes: Buffer): Promise<ImageInfo> {
  // Loaded on first use (~1.5 MB of heap with its tokenizers): most API processes never receive a file.
  const { fileTypeFromBuffer } = await import('file-type');
  const type = await fileTypeFromBuffer(bytes);
  if (!type || !accepted.has(type.mime)) throw new UnsupportedMediaTypeError();
  let meta: Metadata;
  try {
    // Header only: nothing is decoded here, so no pixel limit is needed to read the claimed size.
    // Loaded on first use: an API process that never receives an image never holds libvips.
    const { default: sharp } = await import('sharp');
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new UnsupportedMediaTypeError('The image could not be read');
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (!width || !height || width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || width * height > MAX_IMAGE_PIXELS) {
    throw new DomainError(422, 'image_too_large', `Images may be at most ${MAX_IMAGE_SIDE} px a side and ${MAX_IMAGE_PIXELS / 1e6} megapixels`);
  }
  return { mime: type.mime, width, height };
}
