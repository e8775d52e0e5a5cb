import { PGlite } from '@electric-sql/pglite';

let t = performance.now();
const db = await PGlite.create('memory://');
await db.query('select 1');
console.log('fresh', (performance.now() - t).toFixed(0));
await db.exec('create table x(a int); insert into x values (1)');
t = performance.now();
const dump = await db.dumpDataDir('none');
console.log('dump', (performance.now() - t).toFixed(0), dump.size);
await db.close();
t = performance.now();
const db2 = await PGlite.create('memory://', { loadDataDir: dump });
console.log((await db2.query('select * from x')).rows, 'from dump', (performance.now() - t).toFixed(0));
