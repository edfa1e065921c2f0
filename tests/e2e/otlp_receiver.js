#!/usr/bin/env node
/*
 * otlp_receiver.js - a real OTLP trace receiver on loopback, for the end-to-end tests.
 *
 * Two servers on ephemeral ports of 127.0.0.1, announced as the first line of stdout:
 *   {"http": <port>, "grpc": <port>}
 *  - OTLP/HTTP (HTTP/1.1): POST /v1/traces, application/x-protobuf or application/json,
 *    optionally Content-Encoding: gzip.
 *  - OTLP/gRPC (h2c, HTTP/2 with prior knowledge): unary
 *    /opentelemetry.proto.collector.trace.v1.TraceService/Export, with gRPC framing,
 *    grpc-encoding: gzip, and grpc-status / grpc-message trailers.
 * With --tls-cert/--tls-key both are TLS instead (HTTP/1.1 or h2 by ALPN); --tls-client-ca
 * requires client certificates signed by that CA (mTLS).
 *
 * Protobuf is decoded with code we did not write: the protobufjs code that
 * @opentelemetry/otlp-transformer@0.216.0 generated from opentelemetry-proto
 * (build/src/generated/root.js). protobufjs is lenient, so --strict (the tests' default) also
 * walks every protobuf body against the OTLP schema (wire types, lengths, known field numbers,
 * id sizes, UTF-8, no duplicated singular fields) and every JSON body against the OTLP/JSON
 * mapping (lowerCamelCase keys, hex ids, integer enums). A strict failure is answered 400 and
 * recorded in the request log, so a test that looks at the log fails.
 *
 * Output (files appended one JSON object per line, written before the answer is sent, so a
 * client that saw its answer finds its spans on disk):
 *  --out FILE       one line per span: traceId, spanId, parentSpanId ('' for a root), name,
 *                   kind, startTimeUnixNano, endTimeUnixNano (strings), attributes (flat
 *                   object; arrays as arrays), attrTypes (key -> string|int|double|bool|array|
 *                   kvlist|bytes), events, links, status {code, message}, flags, traceState,
 *                   dropped counts, resource (flat object), scope {name, version}, transport.
 *  --requests FILE  one line per request: seq, tMs, transport, conn, method, path, headers,
 *                   contentType, contentEncoding, grpcEncoding, userAgent, bodyBytes, spans,
 *                   answer, strictErrors, decodeError.
 *
 * Scripted behaviour:
 *  --script LIST    comma-separated answers, consumed one per request, then the default (200,
 *                   grpc-status 0). Entries: "503", "503:ra=2" (Retry-After: 2), "503:rad=2"
 *                   (Retry-After as an HTTP-date 2 s ahead), "grpc=14", "grpc=8:ri=1" (with
 *                   RetryInfo 1 s in grpc-status-details-bin), "grpc=3:msg=bad%20data",
 *                   "hang" (never answer), "close" (drop the connection without an answer).
 *                   A numeric entry on a gRPC request answers that HTTP status without
 *                   grpc-status (what a proxy does).
 *  --hang           accept every request and never answer.
 *  --partial N      successes carry partial_success with N rejected spans.
 *  --delay-ms N     wait before every answer.
 *  --path P         the OTLP/HTTP path (default /v1/traces); other paths get 404.
 *  --modules DIR    where node_modules is (default: $WT_NODE_MODULES, then next to this file).
 *
 * Runs with Node >= 20 and its built-in http, http2, https, zlib; stops on SIGTERM/SIGINT.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const http = require('http');
const https = require('https');
const http2 = require('http2');
const zlib = require('zlib');

const GRPC_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const BODY_MAX = 64 << 20; /* [OTLP]: clients must not send more */

function parseArgs(argv) {
  const o = { script: [], hang: false, partial: 0, strict: false, delayMs: 0,
              path: '/v1/traces', out: null, requests: null, modules: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    if (a === '--out') o.out = val();
    else if (a === '--requests') o.requests = val();
    else if (a === '--script') o.script = val().split(',').filter(Boolean).map(parseEntry);
    else if (a === '--hang') o.hang = true;
    else if (a === '--partial') o.partial = parseInt(val(), 10);
    else if (a === '--strict') o.strict = true;
    else if (a === '--delay-ms') o.delayMs = parseInt(val(), 10);
    else if (a === '--path') o.path = val();
    else if (a === '--modules') o.modules = val();
    else if (a === '--tls-cert') o.tlsCert = val();
    else if (a === '--tls-key') o.tlsKey = val();
    else if (a === '--tls-client-ca') o.tlsClientCa = val();
    else usage(`unknown argument ${a}`);
  }
  return o;
}

function usage(msg) {
  process.stderr.write(`otlp_receiver: ${msg}\n`);
  process.exit(2);
}

function parseEntry(s) {
  const [head, ...opts] = s.split(':');
  const e = {};
  if (head === 'hang' || head === 'close') e.action = head;
  else if (head.startsWith('grpc=')) e.grpc = parseInt(head.slice(5), 10);
  else if (/^\d{3}$/.test(head)) e.status = parseInt(head, 10);
  else usage(`bad script entry ${s}`);
  for (const opt of opts) {
    const [k, v] = opt.split('=');
    if (k === 'ra') e.retryAfter = v;
    else if (k === 'rad') e.retryAfterDate = parseInt(v, 10);
    else if (k === 'ri') e.retryInfo = parseFloat(v);
    else if (k === 'msg') e.message = decodeURIComponent(v);
    else usage(`bad script option ${opt}`);
  }
  return e;
}

const opts = parseArgs(process.argv.slice(2));
const t0 = Date.now();
let seq = 0;
let connSeq = 0;

function loadRoot() {
  const rel = '@opentelemetry/otlp-transformer/build/src/generated/root.js';
  const dirs = [opts.modules, process.env.WT_NODE_MODULES, path.join(__dirname, 'node_modules')];
  for (const d of dirs.filter(Boolean)) {
    const p = path.join(d, rel);
    if (fs.existsSync(p)) return require(p);
  }
  usage(`cannot find ${rel}; run npm ci in tests/e2e (or pass --modules)`);
}
const root = loadRoot();
const TraceV1 = root.opentelemetry.proto.collector.trace.v1;
const { checkProtobuf, checkJson } = strictCheckers();

/* --- normalisation: one shape for protobuf and JSON input -------------------------------- */

const b64hex = (s) => Buffer.from(s || '', 'base64').toString('hex');

function anyValue(v) {
  if (!v) return [null, 'empty'];
  if ('stringValue' in v) return [v.stringValue, 'string'];
  if ('boolValue' in v) return [v.boolValue, 'bool'];
  if ('intValue' in v) {
    const n = Number(v.intValue);
    return [Number.isSafeInteger(n) ? n : String(v.intValue), 'int'];
  }
  if ('doubleValue' in v) return [typeof v.doubleValue === 'number' ? v.doubleValue : String(v.doubleValue), 'double'];
  if ('arrayValue' in v) return [((v.arrayValue || {}).values || []).map((x) => anyValue(x)[0]), 'array'];
  if ('kvlistValue' in v) return [attrs((v.kvlistValue || {}).values)[0], 'kvlist'];
  if ('bytesValue' in v) return [v.bytesValue, 'bytes'];
  return [null, 'empty'];
}

function attrs(list) {
  const out = {};
  const types = {};
  for (const kv of list || []) {
    const [val, type] = anyValue(kv.value);
    out[kv.key] = val;
    types[kv.key] = type;
  }
  return [out, types];
}

function normSpan(s, json, rs, ss, transport) {
  const id = (x) => (json ? String(x || '') : b64hex(x));
  const [a, at] = attrs(s.attributes);
  const [resource] = attrs((rs.resource || {}).attributes);
  const scope = ss.scope || {};
  return {
    traceId: id(s.traceId), spanId: id(s.spanId), parentSpanId: id(s.parentSpanId),
    name: s.name || '', kind: Number(s.kind || 0), traceState: s.traceState || '',
    startTimeUnixNano: String(s.startTimeUnixNano || '0'),
    endTimeUnixNano: String(s.endTimeUnixNano || '0'),
    attributes: a, attrTypes: at,
    droppedAttributesCount: Number(s.droppedAttributesCount || 0),
    events: (s.events || []).map((e) => ({
      name: e.name || '', timeUnixNano: String(e.timeUnixNano || '0'),
      attributes: attrs(e.attributes)[0], droppedAttributesCount: Number(e.droppedAttributesCount || 0),
    })),
    droppedEventsCount: Number(s.droppedEventsCount || 0),
    links: (s.links || []).map((l) => ({
      traceId: id(l.traceId), spanId: id(l.spanId), traceState: l.traceState || '',
      attributes: attrs(l.attributes)[0], flags: Number(l.flags || 0),
    })),
    droppedLinksCount: Number(s.droppedLinksCount || 0),
    status: { code: Number((s.status || {}).code || 0), message: (s.status || {}).message || '' },
    flags: Number(s.flags || 0),
    resource, resourceSchemaUrl: rs.schemaUrl || '',
    scope: { name: scope.name || '', version: scope.version || '' },
    transport,
  };
}

function normRequest(obj, json, transport) {
  const spans = [];
  for (const rs of obj.resourceSpans || []) {
    for (const ss of rs.scopeSpans || []) {
      for (const s of ss.spans || []) spans.push(normSpan(s, json, rs, ss, transport));
    }
  }
  return spans;
}

/* Decode an uncompressed body: returns {spans, strictErrors} or throws. */
function decodeBody(buf, json, transport) {
  let obj;
  const strictErrors = opts.strict ? (json ? checkJson(buf) : checkProtobuf(buf)) : [];
  if (json) {
    obj = JSON.parse(buf.toString('utf8'));
  } else {
    const msg = TraceV1.ExportTraceServiceRequest.decode(buf);
    obj = TraceV1.ExportTraceServiceRequest.toObject(msg, { longs: String, enums: Number, bytes: String });
  }
  return { spans: normRequest(obj, json, transport), strictErrors };
}

/* --- answers --------------------------------------------------------------------------------- */

function nextAnswer() {
  if (opts.hang) return { action: 'hang' };
  return opts.script.length ? opts.script.shift() : {};
}

function successBody(json) {
  const ps = opts.partial > 0 ? { partialSuccess: { rejectedSpans: opts.partial, errorMessage: `rejected ${opts.partial} spans` } } : {};
  if (json) {
    if (ps.partialSuccess) ps.partialSuccess.rejectedSpans = String(opts.partial);
    return Buffer.from(JSON.stringify(ps));
  }
  return Buffer.from(TraceV1.ExportTraceServiceResponse.encode(ps).finish());
}

/* A minimal protobuf writer for google.rpc.Status, which root.js does not have. */
function pbVarint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}
const pbField = (num, bytes) => Buffer.concat([pbVarint((num << 3) | 2), pbVarint(bytes.length), bytes]);
const pbInt = (num, n) => Buffer.concat([pbVarint(num << 3), pbVarint(n)]);

function rpcStatus(code, message, retrySeconds) {
  const parts = [pbInt(1, code), pbField(2, Buffer.from(message || ''))];
  if (retrySeconds !== undefined) {
    const secs = Math.floor(retrySeconds);
    const nanos = Math.round((retrySeconds - secs) * 1e9);
    const dur = Buffer.concat([pbInt(1, secs), nanos ? pbInt(2, nanos) : Buffer.alloc(0)]);
    const any = Buffer.concat([pbField(1, Buffer.from('type.googleapis.com/google.rpc.RetryInfo')),
                               pbField(2, pbField(1, dur))]);
    parts.push(pbField(3, any));
  }
  return Buffer.concat(parts);
}

function record(file, obj) {
  if (file) fs.appendFileSync(file, JSON.stringify(obj) + '\n');
}

function gunzipMaybe(buf, enc) {
  if (!enc || enc === 'identity') return buf;
  if (enc === 'gzip') return zlib.gunzipSync(buf);
  throw new Error(`unsupported encoding ${enc}`);
}

/* Shared request bookkeeping: decode, record spans, return the request log entry. */
function ingest(req, body, json, transport, encoding) {
  const entry = { seq: ++seq, tMs: Date.now() - t0, transport, bodyBytes: body.length, spans: 0, strictErrors: [] };
  try {
    const raw = gunzipMaybe(body, encoding);
    const { spans, strictErrors } = decodeBody(raw, json, transport);
    entry.spans = spans.length;
    entry.strictErrors = strictErrors;
    if (!strictErrors.length) for (const s of spans) record(opts.out, s);
  } catch (e) {
    entry.decodeError = String(e && e.message ? e.message : e);
  }
  return entry;
}

function headerSummary(h) {
  const out = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(':')) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function readBody(stream, cb) {
  const chunks = [];
  let n = 0;
  stream.on('data', (c) => {
    n += c.length;
    if (n <= BODY_MAX) chunks.push(c);
  });
  stream.on('end', () => cb(n > BODY_MAX ? null : Buffer.concat(chunks)));
  stream.on('error', () => {});
}

/* --- OTLP/HTTP ------------------------------------------------------------------------------- */

function onHttp(req, res) {
  if (req.socket.wtConn === undefined) req.socket.wtConn = ++connSeq;
  readBody(req, (body) => {
    const ct = (req.headers['content-type'] || '').split(';')[0].trim();
    const json = ct === 'application/json';
    const base = { method: req.method, path: req.url, conn: req.socket.wtConn, httpVersion: req.httpVersion,
                   headers: headerSummary(req.headers), contentType: req.headers['content-type'] || '',
                   contentEncoding: req.headers['content-encoding'] || '', userAgent: req.headers['user-agent'] || '' };
    let entry;
    if (req.method !== 'POST' || req.url !== opts.path || body === null ||
        (ct !== 'application/json' && ct !== 'application/x-protobuf')) {
      entry = { seq: ++seq, tMs: Date.now() - t0, transport: 'http', spans: 0, strictErrors: [],
                decodeError: body === null ? 'body too large' : 'wrong method, path or content type' };
      const code = req.url !== opts.path ? 404 : body === null ? 413 : 415;
      Object.assign(entry, base, { answer: { status: code } });
      record(opts.requests, entry);
      res.writeHead(code, { 'content-type': 'text/plain' }).end('no\n');
      return;
    }
    entry = Object.assign(ingest(req, body, json, 'http', req.headers['content-encoding']), base);
    const bad = entry.decodeError || entry.strictErrors.length;
    const ans = bad ? { status: 400, message: entry.decodeError || entry.strictErrors[0] } : nextAnswer();
    answerHttp(res, ans, json, entry);
  });
}

function answerHttp(res, ans, json, entry) {
  entry.answer = ans;
  record(opts.requests, entry);
  if (ans.action === 'hang') return;
  if (ans.action === 'close') { res.socket.destroy(); return; }
  setTimeout(() => {
    let status = ans.status || (ans.grpc === undefined || ans.grpc === 0 ? 200 : 500);
    const headers = { 'content-type': json ? 'application/json' : 'application/x-protobuf' };
    if (ans.retryAfter !== undefined) headers['retry-after'] = ans.retryAfter;
    if (ans.retryAfterDate !== undefined) headers['retry-after'] = new Date(Date.now() + ans.retryAfterDate * 1000).toUTCString();
    let body;
    if (status >= 200 && status < 300) body = successBody(json);
    else if (json) body = Buffer.from(JSON.stringify({ code: 3, message: ans.message || `answer ${status}` }));
    else body = rpcStatus(3, ans.message || `answer ${status}`);
    res.writeHead(status, headers).end(body);
  }, opts.delayMs);
}

/* --- OTLP/gRPC ------------------------------------------------------------------------------- */

function grpcFrames(buf) {
  const frames = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 5) throw new Error('truncated gRPC frame header');
    const flag = buf[off];
    const len = buf.readUInt32BE(off + 1);
    if (flag > 1) throw new Error(`bad gRPC compressed flag ${flag}`);
    if (buf.length - off - 5 < len) throw new Error('truncated gRPC message');
    frames.push({ flag, data: buf.subarray(off + 5, off + 5 + len) });
    off += 5 + len;
  }
  return frames;
}

function onGrpcStream(stream, headers) {
  const session = stream.session;
  if (session.wtConn === undefined) session.wtConn = ++connSeq;
  readBody(stream, (body) => {
    const base = { method: headers[':method'], path: headers[':path'], conn: session.wtConn, httpVersion: '2.0',
                   headers: headerSummary(headers), contentType: headers['content-type'] || '',
                   grpcEncoding: headers['grpc-encoding'] || '', userAgent: headers['user-agent'] || '' };
    let entry;
    try {
      if (headers[':path'] !== GRPC_PATH) throw Object.assign(new Error('unknown method'), { code: 12 });
      if (!/^application\/grpc(\+proto)?$/.test(headers['content-type'] || '')) throw Object.assign(new Error('bad content-type'), { code: 3 });
      if (body === null) throw Object.assign(new Error('message too large'), { code: 8 });
      const frames = grpcFrames(body);
      if (frames.length !== 1) throw Object.assign(new Error(`${frames.length} messages in a unary call`), { code: 13 });
      const f = frames[0];
      const enc = headers['grpc-encoding'] || 'identity';
      if (f.flag === 1 && enc === 'identity') throw Object.assign(new Error('compressed flag without grpc-encoding'), { code: 13 });
      entry = Object.assign(ingest(null, f.data, false, 'grpc', f.flag ? enc : 'identity'), base);
      if (opts.strict && headers.te !== 'trailers') entry.strictErrors.push('te: trailers missing');
      if (opts.strict && f.flag === 0 && enc !== 'identity') entry.strictErrors.push('grpc-encoding set but message not compressed');
    } catch (e) {
      entry = Object.assign({ seq: ++seq, tMs: Date.now() - t0, transport: 'grpc', spans: 0, strictErrors: [],
                              decodeError: e.message, errCode: e.code || 13 }, base);
    }
    let ans;
    if (entry.decodeError) ans = { grpc: entry.errCode, message: entry.decodeError };
    else if (entry.strictErrors.length) ans = { grpc: 3, message: entry.strictErrors[0] };
    else ans = nextAnswer();
    answerGrpc(stream, ans, entry);
  });
}

function answerGrpc(stream, ans, entry) {
  entry.answer = ans;
  record(opts.requests, entry);
  if (ans.action === 'hang') return;
  if (ans.action === 'close') { stream.session.destroy(); return; }
  setTimeout(() => {
    if (stream.destroyed) return;
    if (ans.status !== undefined) { /* a proxy's answer: no gRPC status at all */
      stream.respond({ ':status': ans.status, 'content-type': 'text/plain' });
      stream.end('proxy says no\n');
      return;
    }
    const code = ans.grpc || 0;
    const trailers = { 'grpc-status': String(code) };
    if (ans.message) trailers['grpc-message'] = encodeURIComponent(ans.message);
    if (ans.retryInfo !== undefined) {
      trailers['grpc-status-details-bin'] = rpcStatus(code, ans.message, ans.retryInfo).toString('base64').replace(/=+$/, '');
    }
    if (code !== 0) { /* trailers-only response */
      stream.respond(Object.assign({ ':status': 200, 'content-type': 'application/grpc' }, trailers), { endStream: true });
      return;
    }
    const msg = successBody(false);
    const frame = Buffer.alloc(5 + msg.length);
    frame.writeUInt32BE(msg.length, 1);
    msg.copy(frame, 5);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers));
    stream.end(frame);
  }, opts.delayMs);
}

/* --- strict checking --------------------------------------------------------------------------- */

function strictCheckers() {
  /* field number -> [kind, type or size, repeated]; kinds: m message, s string, b bytes,
   * v varint, e enum/bool (varint), f64 fixed64/double, f32 fixed32. [OTLP] protos. */
  const R = true;
  const S = {
    Request: { 1: ['m', 'ResourceSpans', R] },
    ResourceSpans: { 1: ['m', 'Resource'], 2: ['m', 'ScopeSpans', R], 3: ['s'] },
    Resource: { 1: ['m', 'KeyValue', R], 2: ['v'], 3: ['b', null, R] },
    ScopeSpans: { 1: ['m', 'Scope'], 2: ['m', 'Span', R], 3: ['s'] },
    Scope: { 1: ['s'], 2: ['s'], 3: ['m', 'KeyValue', R], 4: ['v'] },
    Span: { 1: ['b', 16], 2: ['b', 8], 3: ['s'], 4: ['b', 8], 5: ['s'], 6: ['v'], 7: ['f64'], 8: ['f64'],
            9: ['m', 'KeyValue', R], 10: ['v'], 11: ['m', 'Event', R], 12: ['v'], 13: ['m', 'Link', R],
            14: ['v'], 15: ['m', 'Status'], 16: ['f32'] },
    Event: { 1: ['f64'], 2: ['s'], 3: ['m', 'KeyValue', R], 4: ['v'] },
    Link: { 1: ['b', 16], 2: ['b', 8], 3: ['s'], 4: ['m', 'KeyValue', R], 5: ['v'], 6: ['f32'] },
    Status: { 2: ['s'], 3: ['v'] },
    KeyValue: { 1: ['s'], 2: ['m', 'AnyValue'] },
    AnyValue: { 1: ['s'], 2: ['v'], 3: ['v'], 4: ['f64'], 5: ['m', 'ArrayValue'], 6: ['m', 'KeyValueList'], 7: ['b'] },
    ArrayValue: { 1: ['m', 'AnyValue', R] },
    KeyValueList: { 1: ['m', 'KeyValue', R] },
  };
  const WIRE = { m: 2, s: 2, b: 2, v: 0, f64: 1, f32: 5 };
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  function varint(buf, st) {
    let v = 0n;
    for (let i = 0; i < 10; i++) {
      if (st.off >= buf.length) throw new Error('truncated varint');
      const b = buf[st.off++];
      v |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (!(b & 0x80)) return v;
    }
    throw new Error('varint longer than 10 bytes');
  }

  function walk(buf, type, where, errs) {
    const schema = S[type];
    const seen = {};
    const st = { off: 0 };
    while (st.off < buf.length) {
      const key = varint(buf, st);
      const num = Number(key >> 3n);
      const wire = Number(key & 7n);
      const f = schema[num];
      const at = `${where}.${type}#${num}`;
      if (!f) { errs.push(`${at}: unknown field`); return; }
      if (WIRE[f[0]] !== wire) { errs.push(`${at}: wire type ${wire}, want ${WIRE[f[0]]}`); return; }
      if (!f[2] && seen[num]) errs.push(`${at}: singular field repeated`);
      seen[num] = true;
      if (wire === 0) {
        const v = varint(buf, st);
        if (type === 'AnyValue' && num === 2 && v > 1n) errs.push(`${at}: bool ${v}`);
        if (type === 'Span' && num === 6 && v > 5n) errs.push(`${at}: kind ${v}`);
        if (type === 'Status' && num === 3 && v > 2n) errs.push(`${at}: status code ${v}`);
      } else if (wire === 1 || wire === 5) {
        const n = wire === 1 ? 8 : 4;
        if (st.off + n > buf.length) { errs.push(`${at}: truncated fixed`); return; }
        if (type === 'Span' && num === 16 && (buf.readUInt32LE(st.off) >>> 10) !== 0) errs.push(`${at}: flags upper bits set`);
        st.off += n;
      } else {
        const len = Number(varint(buf, st));
        if (st.off + len > buf.length) { errs.push(`${at}: length ${len} past the end`); return; }
        const sub = buf.subarray(st.off, st.off + len);
        st.off += len;
        if (f[0] === 's') {
          try { utf8.decode(sub); } catch (e) { errs.push(`${at}: invalid UTF-8`); }
          if (type === 'KeyValue' && num === 1 && len === 0) errs.push(`${at}: empty key`);
        } else if (f[0] === 'b' && typeof f[1] === 'number' && len !== f[1] && !(type === 'Span' && num === 4 && len === 0)) {
          errs.push(`${at}: ${len} bytes, want ${f[1]}`);
        } else if (f[0] === 'm') {
          walk(sub, f[1], at, errs);
        }
      }
    }
    if (type === 'Span' && (!seen[1] || !seen[2])) errs.push(`${where}.Span: no trace_id or span_id`);
    if (type === 'AnyValue' && Object.keys(seen).length !== 1) errs.push(`${where}.AnyValue: ${Object.keys(seen).length} values set`);
    if (type === 'KeyValue' && !seen[1]) errs.push(`${where}.KeyValue: no key`);
  }

  function checkProtobuf(buf) {
    const errs = [];
    try { walk(buf, 'Request', '', errs); } catch (e) { errs.push(e.message); }
    return errs.slice(0, 20);
  }

  /* OTLP/JSON: the keys each message may have, and how its scalar values must look. */
  const J = {
    Request: { resourceSpans: ['ResourceSpans'] },
    ResourceSpans: { resource: 'Resource', scopeSpans: ['ScopeSpans'], schemaUrl: 'str' },
    Resource: { attributes: ['KeyValue'], droppedAttributesCount: 'u32', entityRefs: 'any' },
    ScopeSpans: { scope: 'Scope', spans: ['Span'], schemaUrl: 'str' },
    Scope: { name: 'str', version: 'str', attributes: ['KeyValue'], droppedAttributesCount: 'u32' },
    Span: { traceId: 'hex16', spanId: 'hex8', traceState: 'str', parentSpanId: 'hex8?', name: 'str', kind: 'enum5',
            startTimeUnixNano: 'u64', endTimeUnixNano: 'u64', attributes: ['KeyValue'], droppedAttributesCount: 'u32',
            events: ['Event'], droppedEventsCount: 'u32', links: ['Link'], droppedLinksCount: 'u32', status: 'Status', flags: 'u32' },
    Event: { timeUnixNano: 'u64', name: 'str', attributes: ['KeyValue'], droppedAttributesCount: 'u32' },
    Link: { traceId: 'hex16', spanId: 'hex8', traceState: 'str', attributes: ['KeyValue'], droppedAttributesCount: 'u32', flags: 'u32' },
    Status: { message: 'str', code: 'enum2' },
    KeyValue: { key: 'str', value: 'AnyValue' },
    AnyValue: { stringValue: 'str', boolValue: 'bool', intValue: 'i64', doubleValue: 'dbl', arrayValue: 'ArrayValue',
                kvlistValue: 'KeyValueList', bytesValue: 'str' },
    ArrayValue: { values: ['AnyValue'] },
    KeyValueList: { values: ['KeyValue'] },
  };
  const isInt = (v, signed) => (typeof v === 'number' && Number.isInteger(v) && (signed || v >= 0)) ||
    (typeof v === 'string' && (signed ? /^-?\d+$/ : /^\d+$/).test(v));
  const scalar = {
    str: (v) => typeof v === 'string',
    bool: (v) => typeof v === 'boolean',
    u32: (v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32,
    u64: (v) => isInt(v, false),
    i64: (v) => isInt(v, true),
    dbl: (v) => typeof v === 'number' || v === 'NaN' || v === 'Infinity' || v === '-Infinity',
    enum5: (v) => Number.isInteger(v) && v >= 0 && v <= 5,
    enum2: (v) => Number.isInteger(v) && v >= 0 && v <= 2,
    hex16: (v) => typeof v === 'string' && /^[0-9a-f]{32}$/.test(v),
    hex8: (v) => typeof v === 'string' && /^[0-9a-f]{16}$/.test(v),
    'hex8?': (v) => typeof v === 'string' && /^([0-9a-f]{16})?$/.test(v),
    any: () => true,
  };

  function jwalk(v, type, where, errs) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) { errs.push(`${where}: ${type} is not an object`); return; }
    const schema = J[type];
    for (const [k, x] of Object.entries(v)) {
      const t = schema[k];
      const at = `${where}.${k}`;
      if (t === undefined) errs.push(`${at}: unknown key in ${type}`);
      else if (Array.isArray(t)) {
        if (!Array.isArray(x)) errs.push(`${at}: not an array`);
        else x.forEach((e, i) => jwalk(e, t[0], `${at}[${i}]`, errs));
      } else if (J[t]) jwalk(x, t, at, errs);
      else if (!scalar[t](x)) errs.push(`${at}: ${JSON.stringify(x)} is not a valid ${t}`);
    }
    if (type === 'AnyValue' && Object.keys(v).length !== 1) errs.push(`${where}: ${Object.keys(v).length} values set`);
    if (type === 'Span' && (!v.traceId || !v.spanId)) errs.push(`${where}: no traceId or spanId`);
  }

  function checkJson(buf) {
    const errs = [];
    try {
      const text = utf8.decode(buf);
      jwalk(JSON.parse(text), 'Request', '', errs);
    } catch (e) { errs.push(e.message); }
    return errs.slice(0, 20);
  }
  return { checkProtobuf, checkJson };
}

/* --- servers ------------------------------------------------------------------------------------ */

function tlsOptions() {
  if (!opts.tlsCert) return null;
  const o = { cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) };
  if (opts.tlsClientCa) Object.assign(o, { ca: fs.readFileSync(opts.tlsClientCa), requestCert: true, rejectUnauthorized: true });
  return o;
}

function main() {
  const tls = tlsOptions();
  const httpServer = tls ? https.createServer(tls, onHttp) : http.createServer(onHttp);
  httpServer.keepAliveTimeout = 30000;
  const grpcServer = tls ? http2.createSecureServer(tls) : http2.createServer();
  grpcServer.on('stream', onGrpcStream);
  grpcServer.on('sessionError', () => {});
  let ready = 0;
  const announce = () => {
    if (++ready < 2) return;
    process.stdout.write(JSON.stringify({ http: httpServer.address().port, grpc: grpcServer.address().port }) + '\n');
  };
  httpServer.listen(0, '127.0.0.1', announce);
  grpcServer.listen(0, '127.0.0.1', announce);
  const stop = () => process.exit(0);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
