// SPDX-License-Identifier: MIT
//
// A test receiver for ctxlog's OTLP sink: an OTLP/HTTP logs endpoint on
// 127.0.0.1 that decodes every request with OpenTelemetry's own generated
// protobuf code (@opentelemetry/otlp-transformer's root.js: the messages
// of opentelemetry-proto compiled by protobufjs), for http/protobuf and
// http/json alike, and writes each log record it received as one JSON line
// for the C test to check.
//
//   node receiver.js OUT.jsonl [PORT]
//
// Prints "PORT <n>" once listening (PORT 0 or none: a free port).
// POST /v1/logs        the OTLP endpoint
// POST /control        {"mode": "ok" | "503" | "400" | "slow", "count": N,
//                       "retry_after": S, "delay_ms": MS}: the next N
//                       requests (0: all) answer 503 with Retry-After: S,
//                       or 400, or are answered after MS; "partial": 200
//                       with a partial success rejecting the first record
//                       (which is then not written)
// GET  /stats          counts, as JSON
// POST /stop           answers, stops accepting, finishes what is in
//                      flight and exits
'use strict';

const fs = require('fs');
const http = require('http');
const zlib = require('zlib');
const path = require('path');

const root = require(path.join(__dirname, 'node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js'));
const Request = root.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;
const Response = root.opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse;

const out = process.argv[2];
const port = Number(process.argv[3] || 0);
if (!out) {
  console.error('usage: node receiver.js OUT.jsonl [PORT]');
  process.exit(2);
}

const stats = {
  requests: 0, records: 0, protobuf: 0, json: 0, gzip: 0,
  answered503: 0, answered400: 0, rejected_records: 0, slow: 0, bad: 0, partial: 0,
};
let fault = { mode: 'ok', count: 0, retry_after: 1, delay_ms: 0 };

const hex = (b) => (b && b.length ? Buffer.from(b).toString('hex') : '');

// An AnyValue as {"s"|"i"|"d"|"b"|"kv"|"a"|"bytes"|"null": ...}.
function any(v) {
  if (!v || v.value === undefined) return { null: true };
  switch (v.value) {
    case 'stringValue': return { s: v.stringValue };
    case 'intValue': return { i: String(v.intValue) };
    case 'doubleValue': return { d: Number.isFinite(v.doubleValue) ? v.doubleValue : String(v.doubleValue) };
    case 'boolValue': return { b: v.boolValue };
    case 'arrayValue': return { a: (v.arrayValue.values || []).map(any) };
    case 'kvlistValue': {
      const o = {};
      for (const kv of v.kvlistValue.values || []) o[kv.key] = any(kv.value);
      return { kv: o };
    }
    case 'bytesValue': return { bytes: hex(v.bytesValue) };
    default: return { null: true };
  }
}

function attrs(list) {
  const o = {};
  const dup = [];
  for (const kv of list || []) {
    if (Object.prototype.hasOwnProperty.call(o, kv.key)) dup.push(kv.key);
    o[kv.key] = any(kv.value);
  }
  return [o, dup];
}

// The message (decoded by root.js) as JSON lines; `headers`: the
// request's x-* headers.
function lines(msg, encoding, headers) {
  const obj = Request.toObject(msg, { longs: String, enums: Number, oneofs: true, defaults: false });
  const res = [];
  for (const rl of obj.resourceLogs || []) {
    const [resource] = attrs(rl.resource && rl.resource.attributes);
    for (const sl of rl.scopeLogs || []) {
      const scope = sl.scope ? sl.scope.name || '' : '';
      for (const lr of sl.logRecords || []) {
        const [a, dup] = attrs(lr.attributes);
        res.push(JSON.stringify({
          encoding, resource, scope,
          time: lr.timeUnixNano || '0',
          observed: lr.observedTimeUnixNano || '0',
          severityNumber: lr.severityNumber || 0,
          severityText: lr.severityText || '',
          body: any(lr.body),
          traceId: hex(lr.traceId), spanId: hex(lr.spanId),
          flags: lr.flags || 0,
          attrs: a, duplicateKeys: dup, headers,
        }));
      }
    }
  }
  return res;
}

// OTLP/JSON: ids are hex (not proto3 JSON's base64); the rest is the
// canonical proto3 JSON mapping, which root.js's fromObject reads.
function fromJson(text) {
  const o = JSON.parse(text);
  for (const rl of o.resourceLogs || [])
    for (const sl of rl.scopeLogs || [])
      for (const lr of sl.logRecords || []) {
        for (const k of ['traceId', 'spanId']) {
          if (typeof lr[k] !== 'string') continue;
          if (!/^[0-9a-f]*$/.test(lr[k])) throw new Error(`${k} is not lower-case hex: ${lr[k]}`);
          lr[k] = Buffer.from(lr[k], 'hex');
        }
      }
  const err = Request.verify(Request.fromObject(o));
  if (err) throw new Error(err);
  return Request.fromObject(o);
}

function decode(req, body) {
  if ((req.headers['content-encoding'] || '') === 'gzip') {
    stats.gzip++;
    body = zlib.gunzipSync(body);
  }
  const type = (req.headers['content-type'] || '').split(';')[0].trim();
  if (type === 'application/x-protobuf') {
    stats.protobuf++;
    return [Request.decode(body), 'protobuf'];
  }
  if (type === 'application/json') {
    stats.json++;
    return [fromJson(body.toString('utf8')), 'json'];
  }
  throw new Error(`unexpected content type ${type}`);
}

function countRecords(msg) {
  let n = 0;
  for (const rl of msg.resourceLogs || [])
    for (const sl of rl.scopeLogs || []) n += (sl.logRecords || []).length;
  return n;
}

function takeFault() {
  if (fault.mode === 'ok') return 'ok';
  const mode = fault.mode;
  if (fault.count > 0 && --fault.count === 0) fault.mode = 'ok';
  return mode;
}

let server;
function onLogs(req, res, body) {
  stats.requests++;
  let msg, encoding;
  try {
    [msg, encoding] = decode(req, body);
  } catch (e) {
    stats.bad++;
    console.error(`receiver: cannot decode a request: ${e.message}`);
    res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end(e.message);
    return;
  }
  const mode = takeFault();
  if (mode === '503') {
    stats.answered503++;
    res.writeHead(503, { 'Retry-After': String(fault.retry_after) });
    res.end();
    return;
  }
  if (mode === '400') {
    stats.answered400++;
    stats.rejected_records += countRecords(msg);
    res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end('rejected by the test');
    return;
  }
  const answer = () => {
    const headers = {};
    for (const [k, v] of Object.entries(req.headers)) if (k.startsWith('x-')) headers[k] = v;
    let l = lines(msg, encoding, headers);
    let reply = Buffer.alloc(0); // an empty ExportLogsServiceResponse
    if (mode === 'partial') {
      // A partial success: the first record rejected (and not kept).
      stats.partial++;
      stats.rejected_records += 1;
      l = l.slice(1);
      const why = 'first record rejected by the test';
      reply = encoding === 'json'
        ? Buffer.from(JSON.stringify({ partialSuccess: { rejectedLogRecords: '1', errorMessage: why } }))
        : Buffer.from(Response.encode(Response.fromObject(
          { partialSuccess: { rejectedLogRecords: 1, errorMessage: why } })).finish());
    }
    if (l.length) fs.appendFileSync(out, l.join('\n') + '\n');
    stats.records += l.length;
    res.writeHead(200, { 'Content-Type': req.headers['content-type'] });
    res.end(reply);
  };
  if (mode === 'slow') {
    stats.slow++;
    setTimeout(answer, fault.delay_ms);
  } else {
    answer();
  }
}

server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.method === 'POST' && req.url === '/v1/logs') return onLogs(req, res, body);
    if (req.method === 'POST' && req.url === '/control') {
      fault = Object.assign({ mode: 'ok', count: 0, retry_after: 1, delay_ms: 0 }, JSON.parse(body.toString() || '{}'));
      res.writeHead(200);
      return res.end();
    }
    if (req.method === 'GET' && req.url === '/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify(stats));
    }
    if (req.method === 'POST' && req.url === '/stop') {
      res.writeHead(200, { Connection: 'close' });
      res.end();
      server.close(() => process.exit(0));
      server.closeIdleConnections();
      return;
    }
    res.writeHead(404);
    res.end();
  });
});
server.keepAliveTimeout = 30000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
