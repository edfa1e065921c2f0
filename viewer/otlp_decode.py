"""Decode an OTLP ExportTraceServiceRequest, protobuf or JSON, into flat span dicts.

Why our own decoder: the viewer must run on a bare Debian python3 with no generated code and
no third-party package. The protobuf wire format is small (protobuf "Encoding" guide):

  message  = *field
  field    = key value
  key      = varint: (field_number << 3) | wire_type
  wire type 0 VARINT: base-128 little-endian groups of 7 bits, high bit = "more"; at most
                      10 bytes for 64 bits. Used for int32/int64/uint32/bool/enum (negative
                      int32/int64 are encoded as their 64-bit two's complement).
  wire type 1 I64:    8 bytes little-endian (fixed64, double).
  wire type 2 LEN:    varint length, then that many bytes (string, bytes, sub-message).
  wire type 5 I32:    4 bytes little-endian (fixed32).
  wire types 3 and 4: groups, deprecated; never used by OTLP, rejected here.

Field numbers come from opentelemetry-proto (collector/trace/v1, trace/v1, common/v1,
resource/v1). Unknown fields are skipped as proto3 requires; a known field with the wrong wire
type, a truncated value, a length past the end, field number 0 or invalid UTF-8 in a string is a
DecodeError naming where it happened, so the receiver can answer 400 with a clear message.

The JSON form follows the OTLP/HTTP JSON mapping (OTLP docs/specification.md): lowerCamelCase
keys (the proto field names are accepted too), trace and span ids as hex strings, enums as
integers (names accepted), 64-bit integers as decimal strings or numbers.

Output: a list of span dicts, each carrying its resource's service name; see span_dict().
Span-level problems that do not break the message (an id of the wrong length) are returned as
a list of rejection messages, for an OTLP partial-success answer.
"""

import base64
import json
import struct

KIND_NAMES = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER",
              5: "CONSUMER"}
STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5


class DecodeError(ValueError):
    """The body is not a valid ExportTraceServiceRequest; the message says where."""


# ------------------------------------------------------------------------------------------
# protobuf wire level

def read_varint(buf, pos, end):
    """Return (value, new_pos) of the varint at buf[pos:end]."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        b = buf[pos]
        pos += 1
        if shift == 63 and b > 1:
            raise DecodeError("varint overflows 64 bits")
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint longer than 10 bytes")


def iter_fields(buf, start, end, where):
    """Yield (field_number, wire_type, value) for the message at buf[start:end].

    value is an int for VARINT/I64/I32 (raw unsigned) and a (start, end) pair for LEN, so that
    sub-messages are decoded in place without copying."""
    pos = start
    while pos < end:
        key, pos = read_varint(buf, pos, end)
        num, wt = key >> 3, key & 7
        if num == 0:
            raise DecodeError("%s: field number 0 at byte %d" % (where, pos))
        if wt == VARINT:
            val, pos = read_varint(buf, pos, end)
        elif wt == I64:
            if pos + 8 > end:
                raise DecodeError("%s: truncated fixed64 field %d" % (where, num))
            val = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wt == I32:
            if pos + 4 > end:
                raise DecodeError("%s: truncated fixed32 field %d" % (where, num))
            val = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        elif wt == LEN:
            n, pos = read_varint(buf, pos, end)
            if n > end - pos:
                raise DecodeError("%s: field %d length %d runs past the end (%d bytes left)"
                                  % (where, num, n, end - pos))
            val = (pos, pos + n)
            pos += n
        else:
            raise DecodeError("%s: unsupported wire type %d (field %d)" % (where, wt, num))
        yield num, wt, val


def _want(wt, expected, where, num):
    if wt != expected:
        raise DecodeError("%s: field %d has wire type %d, expected %d"
                          % (where, num, wt, expected))


def _str(buf, span, where):
    try:
        return bytes(buf[span[0]:span[1]]).decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError("%s: invalid UTF-8 in a string (%s)" % (where, e.reason))


def _signed64(v):
    return v - (1 << 64) if v >= (1 << 63) else v


def _pb_anyvalue(buf, s, e, where):
    value = None
    for num, wt, v in iter_fields(buf, s, e, where):
        if num == 1:
            _want(wt, LEN, where, num)
            value = _str(buf, v, where)
        elif num == 2:
            _want(wt, VARINT, where, num)
            value = bool(v)
        elif num == 3:
            _want(wt, VARINT, where, num)
            value = _signed64(v)
        elif num == 4:
            _want(wt, I64, where, num)
            value = struct.unpack("<d", v.to_bytes(8, "little"))[0]
        elif num == 5:
            _want(wt, LEN, where, num)
            value = [_pb_anyvalue(buf, a, b, where + "[]")
                     for n2, w2, (a, b) in _len_fields(buf, v, where, 1)]
        elif num == 6:
            _want(wt, LEN, where, num)
            value = _pb_keyvalues(buf, [(a, b) for n2, w2, (a, b)
                                        in _len_fields(buf, v, where, 1)], where)
        elif num == 7:
            _want(wt, LEN, where, num)
            value = bytes(buf[v[0]:v[1]]).hex()
    return value


def _len_fields(buf, span, where, want_num):
    """The LEN fields numbered want_num inside the message at span (other fields skipped)."""
    for num, wt, v in iter_fields(buf, span[0], span[1], where):
        if num == want_num:
            _want(wt, LEN, where, num)
            yield num, wt, v


def _pb_keyvalues(buf, spans, where):
    out = {}
    for s, e in spans:
        key, value = None, None
        for num, wt, v in iter_fields(buf, s, e, where + ".attribute"):
            if num == 1:
                _want(wt, LEN, where, num)
                key = _str(buf, v, where + ".attribute.key")
            elif num == 2:
                _want(wt, LEN, where, num)
                value = (v[0], v[1])
        if key is None:
            raise DecodeError("%s: attribute without a key" % where)
        out[key] = (_pb_anyvalue(buf, value[0], value[1], "%s[%s]" % (where, key))
                    if value else None)
    return out


def _pb_span(buf, s, e, where):
    sp = {"trace_id": b"", "span_id": b"", "parent_span_id": b"", "trace_state": "",
          "name": "", "kind": 0, "start_ns": 0, "end_ns": 0, "flags": 0,
          "status_code": 0, "status_message": ""}
    attrs, events, links = [], [], []
    for num, wt, v in iter_fields(buf, s, e, where):
        if num in (1, 2, 4):
            _want(wt, LEN, where, num)
            key = {1: "trace_id", 2: "span_id", 4: "parent_span_id"}[num]
            sp[key] = bytes(buf[v[0]:v[1]])
        elif num in (3, 5):
            _want(wt, LEN, where, num)
            sp["trace_state" if num == 3 else "name"] = _str(buf, v, where)
        elif num == 6:
            _want(wt, VARINT, where, num)
            sp["kind"] = v
        elif num in (7, 8):
            _want(wt, I64, where, num)
            sp["start_ns" if num == 7 else "end_ns"] = v
        elif num == 9:
            _want(wt, LEN, where, num)
            attrs.append(v)
        elif num == 11:
            _want(wt, LEN, where, num)
            events.append(_pb_event(buf, v, where + ".event"))
        elif num == 13:
            _want(wt, LEN, where, num)
            links.append(_pb_link(buf, v, where + ".link"))
        elif num == 15:
            _want(wt, LEN, where, num)
            for n2, w2, v2 in iter_fields(buf, v[0], v[1], where + ".status"):
                if n2 == 2:
                    _want(w2, LEN, where + ".status", n2)
                    sp["status_message"] = _str(buf, v2, where)
                elif n2 == 3:
                    _want(w2, VARINT, where + ".status", n2)
                    sp["status_code"] = v2
        elif num == 16:
            _want(wt, I32, where, num)
            sp["flags"] = v
    sp["attributes"] = _pb_keyvalues(buf, attrs, where)
    sp["events"] = events
    sp["links"] = links
    return sp


def _pb_event(buf, v, where):
    ev = {"time_ns": 0, "name": "", "attributes": {}}
    attrs = []
    for num, wt, x in iter_fields(buf, v[0], v[1], where):
        if num == 1:
            _want(wt, I64, where, num)
            ev["time_ns"] = x
        elif num == 2:
            _want(wt, LEN, where, num)
            ev["name"] = _str(buf, x, where)
        elif num == 3:
            _want(wt, LEN, where, num)
            attrs.append(x)
    ev["attributes"] = _pb_keyvalues(buf, attrs, where)
    return ev


def _pb_link(buf, v, where):
    ln = {"trace_id": "", "span_id": "", "attributes": {}}
    attrs = []
    for num, wt, x in iter_fields(buf, v[0], v[1], where):
        if num in (1, 2):
            _want(wt, LEN, where, num)
            ln["trace_id" if num == 1 else "span_id"] = bytes(buf[x[0]:x[1]]).hex()
        elif num == 4:
            _want(wt, LEN, where, num)
            attrs.append(x)
    ln["attributes"] = _pb_keyvalues(buf, attrs, where)
    return ln


def decode_protobuf(body):
    """Decode a binary ExportTraceServiceRequest. Returns (spans, rejections)."""
    buf = memoryview(body)
    spans, rejected = [], []
    for ri, (_, _, rs) in enumerate(_len_fields(buf, (0, len(buf)), "request", 1)):
        where = "resource_spans[%d]" % ri
        resource = {}
        scopes = []
        for num, wt, v in iter_fields(buf, rs[0], rs[1], where):
            if num == 1:
                _want(wt, LEN, where, num)
                resource = _pb_keyvalues(buf, [x for _, _, x in
                                               _len_fields(buf, v, where + ".resource", 1)],
                                         where + ".resource")
            elif num == 2:
                _want(wt, LEN, where, num)
                scopes.append(v)
        for si, ss in enumerate(scopes):
            w2 = "%s.scope_spans[%d]" % (where, si)
            scope = {"name": "", "version": ""}
            raw = []
            for num, wt, v in iter_fields(buf, ss[0], ss[1], w2):
                if num == 1:
                    _want(wt, LEN, w2, num)
                    for n3, w3, v3 in iter_fields(buf, v[0], v[1], w2 + ".scope"):
                        if n3 in (1, 2):
                            _want(w3, LEN, w2 + ".scope", n3)
                            scope["name" if n3 == 1 else "version"] = _str(buf, v3, w2)
                elif num == 2:
                    _want(wt, LEN, w2, num)
                    raw.append(v)
            for pi, v in enumerate(raw):
                sp = _pb_span(buf, v[0], v[1], "%s.spans[%d]" % (w2, pi))
                _finish(sp, resource, scope, spans, rejected)
    return spans, rejected


# ------------------------------------------------------------------------------------------
# JSON form

def _jget(obj, camel, snake, default=None):
    if camel in obj:
        return obj[camel]
    return obj.get(snake, default)


def _jint(v, where):
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise DecodeError("%s: expected an integer or a decimal string, got %r" % (where, v))
    try:
        return int(v)
    except ValueError:
        raise DecodeError("%s: not an integer: %r" % (where, v))


def _jenum(v, names, prefix, where):
    if isinstance(v, str) and not v.lstrip("-").isdigit():
        for k, n in names.items():
            if v in (prefix + n, n):
                return k
        raise DecodeError("%s: unknown enum value %r" % (where, v))
    return _jint(v, where)


def _janyvalue(v, where):
    if not isinstance(v, dict):
        raise DecodeError("%s: value is not an object" % where)
    for camel, snake in (("stringValue", "string_value"), ("boolValue", "bool_value"),
                         ("intValue", "int_value"), ("doubleValue", "double_value"),
                         ("arrayValue", "array_value"), ("kvlistValue", "kvlist_value"),
                         ("bytesValue", "bytes_value")):
        if camel in v or snake in v:
            x = _jget(v, camel, snake)
            if camel == "intValue":
                return _jint(x, where)
            if camel == "doubleValue":
                return float(x)
            if camel == "arrayValue":
                return [_janyvalue(a, where + "[]") for a in (x or {}).get("values", [])]
            if camel == "kvlistValue":
                return _jkeyvalues((x or {}).get("values", []), where)
            if camel == "bytesValue":  # base64 in the JSON mapping; hex like the protobuf path
                try:
                    return base64.b64decode(x or "", validate=True).hex()
                except (ValueError, TypeError):
                    raise DecodeError("%s: bytesValue is not base64" % where)
            return x
    return None


def _jkeyvalues(lst, where):
    if not isinstance(lst, list):
        raise DecodeError("%s: attributes is not a list" % where)
    out = {}
    for kv in lst:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise DecodeError("%s: attribute without a key" % where)
        out[kv["key"]] = _janyvalue(kv.get("value", {}), "%s[%s]" % (where, kv["key"]))
    return out


def _jhex(v, where):
    if not v:
        return b""
    try:
        return bytes.fromhex(v)
    except (ValueError, TypeError):
        raise DecodeError("%s: id %r is not hex (OTLP/JSON carries ids as hex strings)"
                          % (where, v))


def _jspan(js, where):
    if not isinstance(js, dict):
        raise DecodeError("%s: span is not an object" % where)
    st = js.get("status") or {}
    sp = {
        "trace_id": _jhex(_jget(js, "traceId", "trace_id"), where),
        "span_id": _jhex(_jget(js, "spanId", "span_id"), where),
        "parent_span_id": _jhex(_jget(js, "parentSpanId", "parent_span_id"), where),
        "trace_state": _jget(js, "traceState", "trace_state", "") or "",
        "name": js.get("name", "") or "",
        "kind": _jenum(js.get("kind", 0), KIND_NAMES, "SPAN_KIND_", where + ".kind"),
        "start_ns": _jint(_jget(js, "startTimeUnixNano", "start_time_unix_nano"), where),
        "end_ns": _jint(_jget(js, "endTimeUnixNano", "end_time_unix_nano"), where),
        "flags": _jint(js.get("flags"), where),
        "status_code": _jenum(st.get("code", 0), STATUS_NAMES, "STATUS_CODE_", where),
        "status_message": st.get("message", "") or "",
        "attributes": _jkeyvalues(js.get("attributes", []), where),
        "events": [{"time_ns": _jint(_jget(ev, "timeUnixNano", "time_unix_nano"), where),
                    "name": ev.get("name", ""),
                    "attributes": _jkeyvalues(ev.get("attributes", []), where)}
                   for ev in js.get("events", [])],
        "links": [{"trace_id": _jget(ln, "traceId", "trace_id", ""),
                   "span_id": _jget(ln, "spanId", "span_id", ""),
                   "attributes": _jkeyvalues(ln.get("attributes", []), where)}
                  for ln in js.get("links", [])],
    }
    return sp


def decode_json(body):
    """Decode an OTLP/JSON ExportTraceServiceRequest. Returns (spans, rejections)."""
    try:
        doc = json.loads(body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body)
    except (UnicodeDecodeError, ValueError) as e:
        raise DecodeError("body is not valid JSON: %s" % e)
    if not isinstance(doc, dict):
        raise DecodeError("body is not a JSON object")
    spans, rejected = [], []
    for ri, rs in enumerate(_jget(doc, "resourceSpans", "resource_spans", []) or []):
        where = "resourceSpans[%d]" % ri
        res = (rs.get("resource") or {}) if isinstance(rs, dict) else None
        if res is None:
            raise DecodeError("%s is not an object" % where)
        resource = _jkeyvalues(res.get("attributes", []), where + ".resource")
        for si, ss in enumerate(_jget(rs, "scopeSpans", "scope_spans", []) or []):
            w2 = "%s.scopeSpans[%d]" % (where, si)
            sc = ss.get("scope") or {}
            scope = {"name": sc.get("name", ""), "version": sc.get("version", "")}
            for pi, js in enumerate(ss.get("spans", []) or []):
                sp = _jspan(js, "%s.spans[%d]" % (w2, pi))
                _finish(sp, resource, scope, spans, rejected)
    return spans, rejected


# ------------------------------------------------------------------------------------------
# common

def _finish(sp, resource, scope, spans, rejected):
    """Validate ids (OTLP: trace id 16 bytes, span id 8, parent 0 or 8, not all zero), turn
    them into hex, attach the resource and scope, and file the span or its rejection."""
    tid, sid, pid = sp["trace_id"], sp["span_id"], sp["parent_span_id"]
    bad = None
    if len(tid) != 16 or not any(tid):
        bad = "trace_id %r must be 16 non-zero bytes" % tid.hex()
    elif len(sid) != 8 or not any(sid):
        bad = "span_id %r must be 8 non-zero bytes" % sid.hex()
    elif len(pid) not in (0, 8):
        bad = "parent_span_id %r must be empty or 8 bytes" % pid.hex()
    if bad:
        rejected.append("span %r: %s" % (sp["name"], bad))
        return
    sp["trace_id"], sp["span_id"] = tid.hex(), sid.hex()
    sp["parent_span_id"] = pid.hex() if any(pid) else ""
    sp["kind_name"] = KIND_NAMES.get(sp["kind"], str(sp["kind"]))
    sp["status_name"] = STATUS_NAMES.get(sp["status_code"], str(sp["status_code"]))
    sp["resource"] = resource
    sp["service"] = str(resource.get("service.name") or "unknown_service")
    sp["scope"] = scope
    spans.append(sp)


def decode(body, content_type):
    """Decode by content type: 'json' or 'protobuf'."""
    if content_type == "json":
        return decode_json(body)
    return decode_protobuf(body)
