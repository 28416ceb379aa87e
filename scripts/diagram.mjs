#!/usr/bin/env node
// Renders the flow picture of the details page: scripts/diagram.dot → images/flow.png with Graphviz
// `dot`, and stamps the PNG with the SHA-256 of its source (a tEXt chunk), so the docs test can
// tell when the committed picture no longer matches the source.
//
//   node scripts/diagram.mjs
//
// Needs Graphviz and the DejaVu fonts (Debian: apt-get install graphviz fonts-dejavu-core). Only
// this script does: the PNG is committed, and building, packaging and testing never render it.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'scripts', 'diagram.dot');
const target = join(root, 'images', 'flow.png');
/** Keyword of the tEXt chunk holding the source's SHA-256; test/unit/docs.test.ts reads it. */
const STAMP_KEYWORD = 'source-sha256';
const DPI = '96';

/** A PNG tEXt chunk: length, type, keyword NUL text, CRC over type and data. */
function textChunk(keyword, text) {
  const data = Buffer.from(`${keyword}\0${text}`, 'latin1');
  const type = Buffer.from('tEXt', 'latin1');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([type, data])));
  return Buffer.concat([head, type, data, crc]);
}

/** Inserts `chunk` right before IEND, the last chunk of every PNG. */
function withChunk(png, chunk) {
  const iend = png.length - 12;
  if (png.toString('latin1', iend + 4, iend + 8) !== 'IEND') throw new Error('dot wrote a PNG that does not end with IEND');
  return Buffer.concat([png.subarray(0, iend), chunk, png.subarray(iend)]);
}

function main() {
  const dot = spawnSync('dot', [`-Gdpi=${DPI}`, '-Tpng', source], { maxBuffer: 64 * 1024 * 1024 });
  if (dot.error) {
    const why =
      dot.error.code === 'ENOENT'
        ? 'Graphviz `dot` is not installed (Debian: apt-get install graphviz fonts-dejavu-core)'
        : dot.error.message;
    process.stderr.write(`diagram: ${why}\n`);
    process.exit(1);
  }
  if (dot.status !== 0) {
    process.stderr.write(`diagram: dot failed (exit ${dot.status}):\n${dot.stderr}`);
    process.exit(1);
  }
  if (dot.stderr.length) process.stderr.write(dot.stderr);
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex');
  writeFileSync(target, withChunk(dot.stdout, textChunk(STAMP_KEYWORD, hash)));
  process.stdout.write(`wrote ${target} (${dot.stdout.length} bytes, source sha256 ${hash.slice(0, 12)}…)\n`);
}

main();
