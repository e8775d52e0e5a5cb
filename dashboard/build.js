// Builds the dashboard (dashboard/src) into dist/dashboard with esbuild: one minified bundle and
// its stylesheet, shipped with the package and served by the manager at `/`.
// `node dashboard/build.js` (run by `npm run build`, hence by `npm install`).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const here = fileURLToPath(new URL('.', import.meta.url));
const out = join(here, '..', 'dist', 'dashboard');
mkdirSync(out, { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: join(here, 'src', 'main.tsx') },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['chrome110', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  metafile: true,
  logLevel: 'warning',
});
copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
// Compressed copies beside each asset: the manager sends them to browsers that accept them
// (serveStatic's `precompressed`), a fifth of the bytes, compressed once here and never per request.
for (const name of ['app.js', 'app.css']) {
  const raw = readFileSync(join(out, name));
  writeFileSync(join(out, `${name}.gz`), gzipSync(raw, { level: 9 }));
  writeFileSync(
    join(out, `${name}.br`),
    brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
  );
}
// The build's time: the manager compares it with dashboard/src to tell a stale build.
writeFileSync(join(out, 'build.json'), JSON.stringify({ builtAt: new Date().toISOString() }));
const js = result.metafile.outputs[Object.keys(result.metafile.outputs).find((k) => k.endsWith('app.js'))];
const br = readFileSync(join(out, 'app.js.br')).length;
console.log(
  `dashboard built into dist/dashboard (app.js ${Math.round(js.bytes / 1024)} KiB, ${Math.round(br / 1024)} KiB brotli)`,
);
