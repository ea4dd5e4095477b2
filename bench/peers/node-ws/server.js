'use strict';
// Node `ws` peer: same workload as the floor server. Clients connect to /ws?groups=1,2&user=7;
// a publisher sends binary [op u8][id u32 BE][payload] (op 0 = everyone, 1 = group, 2 = user)
// and the payload is sent as one binary message to every recipient.
const http = require('http');
const { WebSocketServer } = require('ws');

const portArg = process.argv.find((a) => a.startsWith('--port='));
const port = Number(portArg ? portArg.slice(7) : process.env.PORT || 5090);
const host = process.env.HOST || '127.0.0.1';

const all = new Set();
const groups = new Map();
const users = new Map();
const EMPTY = new Set();

function join(map, key, ws) {
  let set = map.get(key);
  if (!set) { set = new Set(); map.set(key, set); }
  set.add(ws);
}

function leave(map, key, ws) {
  const set = map.get(key);
  if (set) { set.delete(ws); if (set.size === 0) map.delete(key); }
}

const server = http.createServer((req, res) => { res.writeHead(404); res.end(); });
const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, clientTracking: false, maxPayload: 1 << 20 });

wss.on('connection', (ws, req) => {
  const url = new URL(req.url, 'http://localhost');
  const gs = (url.searchParams.get('groups') || '').split(',').filter((s) => s.length > 0).map(Number);
  const user = Number(url.searchParams.get('user') || 0);
  all.add(ws);
  for (const g of gs) join(groups, g, ws);
  join(users, user, ws);
  ws.on('message', (data, isBinary) => {
    if (!isBinary || data.length < 5) return;
    const op = data[0];
    const id = data.readUInt32BE(1);
    const payload = data.subarray(5);
    const targets = op === 0 ? all : (op === 1 ? groups.get(id) : users.get(id)) || EMPTY;
    for (const c of targets) c.send(payload, { binary: true });
  });
  ws.on('close', () => {
    all.delete(ws);
    for (const g of gs) leave(groups, g, ws);
    leave(users, user, ws);
  });
  ws.on('error', () => {});
});

server.listen(port, host, () => console.log(`node-ws peer listening on ${host}:${port}`));
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
