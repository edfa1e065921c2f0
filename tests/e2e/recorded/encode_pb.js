// Re-encode an OTLP/JSON ExportTraceServiceRequest as binary protobuf with the OpenTelemetry
// JavaScript project's generated protobufjs code, so that the viewer's own decoder is tested on
// bytes written by an encoder we did not write.
//   usage (from tests/e2e, after `npm ci`): node recorded/encode_pb.js IN.json OUT.pb
// OTLP/JSON carries ids as hex; protobufjs' fromObject wants bytes as base64 or a Buffer.
'use strict';
const fs = require('fs');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');
const Req = root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

function ids(span) {
	for (const k of ['traceId', 'spanId', 'parentSpanId'])
		span[k] = Buffer.from(span[k] || '', 'hex');
}
const doc = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
for (const rs of doc.resourceSpans)
	for (const ss of rs.scopeSpans)
		for (const sp of ss.spans)
			ids(sp);
const err = Req.verify(Req.fromObject(doc));
if (err)
	throw new Error(err);
fs.writeFileSync(process.argv[3], Req.encode(Req.fromObject(doc)).finish());
