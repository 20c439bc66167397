// Peer baseline for sila-sync-bench: replicate the same cases, as documents, from a PouchDB to a
// pouchdb-server (express-pouchdb, in memory) over loopback. Prints {"seconds","bytes","docs"}:
// replication time and bytes the client sent. Usage: node bench.js DOCS.ndjson
'use strict';
const fs = require('fs');
const http = require('http');
const PouchDB = require('pouchdb');
PouchDB.plugin(require('pouchdb-adapter-memory'));

function load(name) {
  try { return require(name); } catch (e) { return require('pouchdb-server/node_modules/' + name); }
}

async function main() {
  const docs = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean).map(JSON.parse);
  const MemPouch = PouchDB.defaults({ adapter: 'memory' });
  const app = load('express-pouchdb')(MemPouch, { mode: 'minimumForPouchDB', inMemoryConfig: true });
  let bytes = 0;
  const server = http.createServer(app);
  const sockets = new Set();
  server.on('connection', (sock) => {
    sockets.add(sock);
    sock.on('close', () => { bytes += sock.bytesRead; sockets.delete(sock); });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const local = new MemPouch('branch');
  for (let i = 0; i < docs.length; i += 1000) await local.bulkDocs(docs.slice(i, i + 1000));
  const t0 = process.hrtime.bigint();
  const remote = new PouchDB(`http://127.0.0.1:${port}/hq`);
  const result = await local.replicate.to(remote);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (result.docs_written !== docs.length) throw new Error(`wrote ${result.docs_written} of ${docs.length}`);
  for (const sock of sockets) bytes += sock.bytesRead;
  process.stdout.write(JSON.stringify({ seconds, bytes, docs: docs.length }) + '\n');
  server.close();
  process.exit(0);
}
main().catch((e) => { console.error(e); process.exit(1); });
