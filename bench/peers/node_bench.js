'use strict';
// Bench driver: node-smpp (npm smpp, from ../shared/peers/node) as the ESME. Binds trx, keeps W
// submit_sm outstanding, prints one JSON line: msg/s, p50/p99 latency, client CPU.
//   node bench/peers/node_bench.js --port P --n 20000 --w 10 [--modules DIR]
const path = require('path');

const args = { host: '127.0.0.1', port: 0, n: 20000, w: 10, 'system-id': 'test', password: 'test',
  modules: path.resolve(__dirname, '../../../shared/peers/node/node_modules') };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, '')] = argv[i + 1];
const n = Number(args.n); const w = Number(args.w);
const smpp = require(path.join(args.modules, 'smpp'));

const session = smpp.connect({ host: args.host, port: Number(args.port), auto_enquire_link_period: 0 });
const lat = [];
let sent = 0; let errors = 0; let t0; let c0; let done = false;
const now = () => Number(process.hrtime.bigint()) / 1e9;
const sm = Buffer.from('hello world 12345678');

function submit() {
  sent++;
  const t = now();
  session.submit_sm({
    source_addr_ton: 1, source_addr_npi: 1, source_addr: '12345',
    dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: '31600000000',
    data_coding: 0, short_message: sm,
  }, (resp) => {
    lat.push(now() - t);
    if (resp.command_status !== 0) errors++;
    if (sent < n) submit();
    else if (lat.length === n) finish();
  });
}

function finish() {
  if (done) return;
  done = true;
  const t1 = now();
  const cpu = process.cpuUsage(c0);
  lat.sort((x, y) => x - y);
  process.stdout.write(JSON.stringify({
    peer: 'node-smpp', n, w, msg_per_s: n / (t1 - t0),
    p50_ms: lat[Math.floor(lat.length / 2)] * 1e3,
    p99_ms: lat[Math.min(lat.length - 1, Math.floor(lat.length * 0.99))] * 1e3,
    client_cpu_s: (cpu.user + cpu.system) / 1e6, errors,
  }) + '\n');
  session.unbind(() => { session.close(); process.exit(0); });
  setTimeout(() => process.exit(0), 2000);
}

session.on('error', (e) => { process.stderr.write(`node_bench: ${e.message || e}\n`); process.exit(2); });
session.on('enquire_link', (pdu) => session.send(pdu.response()));
session.on('deliver_sm', (pdu) => session.send(pdu.response()));
session.on('connect', () => {
  session.socket && session.socket.setNoDelay && session.socket.setNoDelay(true);
  session.bind_transceiver({ system_id: args['system-id'], password: args.password }, (pdu) => {
    if (pdu.command_status !== 0) { process.stderr.write('bind refused\n'); process.exit(2); }
    t0 = now(); c0 = process.cpuUsage();
    for (let i = 0; i < Math.min(w, n); i++) submit();
  });
});
setTimeout(() => { process.stderr.write('node_bench: timeout\n'); process.exit(2); }, 300000);
