// Runs the page's OpenCV ports (web/js/resize.js, detail-windows.js) in node, for
// test_web_node.py. Usage: node image_ops.mjs MANIFEST.json OUTDIR. Each manifest entry is
// {name, op: "resize" | "grey" | "blackhat" | "ink", width, height, channels, src (raw bytes), args};
// the result is written to OUTDIR/NAME.out.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { blackHat, inkResponse, toGrey } from '../../web/js/detail-windows.js';
import { makeImage, resize } from '../../web/js/resize.js';

const [manifestPath, outDir] = process.argv.slice(2);
for (const item of JSON.parse(readFileSync(manifestPath, 'utf8'))) {
  const data = new Uint8Array(readFileSync(item.src));
  const image = makeImage(item.width, item.height, item.channels, data);
  let out;
  if (item.op === 'resize') out = resize(image, item.args.width, item.args.height, item.args.method).data;
  else if (item.op === 'grey') out = toGrey(image);
  else if (item.op === 'blackhat') out = blackHat(data, item.width, item.height);
  else if (item.op === 'ink') out = inkResponse(image);
  else throw new Error(`unknown op ${item.op}`);
  writeFileSync(join(outDir, `${item.name}.out`), out);
}
