"""Trace assembly: group spans by trace, decide when a trace is complete, build its tree.

Completion. Spans of one trace come from several processes, each exporting in batches, so there
is no "end of trace" message. A trace is taken as complete when no new span of it has arrived
for `quiet` seconds and its root (a span without a parent) is present; a trace whose root never
comes (the caller was not traced) is shown after `orphan_wait` seconds of quiet; on exit every
trace is shown. A span that arrives after its trace was shown makes the trace due again, and it
is shown once more, marked as updated.

Tree. Children are sorted by start time. A span whose parent was not received is an orphan and
is shown at top level, marked. Parent chains that loop (a malformed input) are cut: every span
is visited once.

Self time is the span's duration minus the part of it covered by the union of its children's
intervals (clipped to the span), so parallel children are not subtracted twice and a
fire-and-forget child that outlives its parent does not make it negative. The dominant span is
the one with the largest self time: where the trace's time was actually spent.

Service graph: a CLIENT span whose child is a SERVER span of another service is one call from
the client's service to the server's; the edge records the count and the client-observed
latency (the CLIENT span's duration).

Thread safety: TraceStore's methods take its lock; analyze() and graph() are pure.
"""

import collections
import threading
import time


class Node:
    __slots__ = ("span", "children", "depth", "self_ns", "orphan", "dominant")

    def __init__(self, span):
        self.span = span
        self.children = []
        self.depth = 0
        self.self_ns = 0
        self.orphan = False
        self.dominant = False


class TraceView:
    """The analysed trace: rows in display order (pre-order), times relative to t0."""

    def __init__(self, trace_id, rows, t0, t1, dominant, services, updated):
        self.trace_id = trace_id
        self.rows = rows            # list of Node, pre-order, depth set
        self.t0 = t0
        self.t1 = t1
        self.dominant = dominant    # Node or None
        self.services = services    # service names in order of first appearance
        self.updated = updated      # shown before: number of spans then, else 0

    @property
    def duration_ns(self):
        return max(0, self.t1 - self.t0)

    @property
    def root(self):
        for n in self.rows:
            if not n.span["parent_span_id"]:
                return n
        return self.rows[0] if self.rows else None


def _covered(intervals, lo, hi):
    """Length of the union of intervals, clipped to [lo, hi]."""
    total, cur_lo, cur_hi = 0, None, None
    for s, e in sorted((max(s, lo), min(e, hi)) for s, e in intervals):
        if e <= s:
            continue
        if cur_hi is None or s > cur_hi:
            if cur_hi is not None:
                total += cur_hi - cur_lo
            cur_lo, cur_hi = s, e
        else:
            cur_hi = max(cur_hi, e)
    if cur_hi is not None:
        total += cur_hi - cur_lo
    return total


def analyze(trace_id, spans, updated=0):
    """Build the TraceView of a list of span dicts (as decoded by otlp_decode)."""
    nodes = {}
    for sp in spans:
        nodes[sp["span_id"]] = Node(sp)
    roots = []
    for n in nodes.values():
        pid = n.span["parent_span_id"]
        if pid and pid in nodes and pid != n.span["span_id"]:
            nodes[pid].children.append(n)
        else:
            n.orphan = bool(pid)
            roots.append(n)

    def start(n):
        return (n.span["start_ns"], n.span["end_ns"], n.span["span_id"])

    # True roots first, then orphans, each group by start time.
    roots.sort(key=lambda n: (n.orphan, start(n)))
    for n in nodes.values():
        n.children.sort(key=start)
    rows, seen = [], set()

    def walk(top):
        stack = [(top, 0)]
        while stack:
            n, depth = stack.pop()
            if n.span["span_id"] in seen:
                continue
            seen.add(n.span["span_id"])
            n.depth = depth
            rows.append(n)
            for c in reversed(n.children):
                stack.append((c, depth + 1))

    for r in roots:
        walk(r)
    for n in sorted(nodes.values(), key=start):  # members of a parent loop
        if n.span["span_id"] not in seen:
            n.orphan = True
            walk(n)
    if not rows:
        return TraceView(trace_id, [], 0, 0, None, [], updated)
    t0 = min(n.span["start_ns"] for n in rows)
    t1 = max(max(n.span["end_ns"], n.span["start_ns"]) for n in rows)
    dominant = None
    for n in rows:
        s, e = n.span["start_ns"], max(n.span["end_ns"], n.span["start_ns"])
        n.self_ns = (e - s) - _covered([(c.span["start_ns"], c.span["end_ns"])
                                        for c in n.children], s, e)
        if dominant is None or n.self_ns > dominant.self_ns:
            dominant = n
    if dominant is not None and dominant.self_ns > 0:
        dominant.dominant = True
    else:
        dominant = None
    services = []
    for n in rows:
        if n.span["service"] not in services:
            services.append(n.span["service"])
    return TraceView(trace_id, rows, t0, t1, dominant, services, updated)


def graph(views):
    """Service graph over TraceViews: (nodes, edges).

    nodes: {service: span count}; edges: {(client_service, server_service):
    {"count", "total_ns", "max_ns", "errors"}}."""
    nodes = collections.OrderedDict()
    edges = collections.OrderedDict()
    for v in views:
        for n in v.rows:
            svc = n.span["service"]
            nodes[svc] = nodes.get(svc, 0) + 1
            if n.span["kind"] != 3:  # CLIENT
                continue
            for c in n.children:
                if c.span["kind"] != 2 or c.span["service"] == svc:
                    continue
                e = edges.setdefault((svc, c.span["service"]),
                                     {"count": 0, "total_ns": 0, "max_ns": 0, "errors": 0})
                d = max(0, n.span["end_ns"] - n.span["start_ns"])
                e["count"] += 1
                e["total_ns"] += d
                e["max_ns"] = max(e["max_ns"], d)
                if n.span["status_code"] == 2:
                    e["errors"] += 1
    return nodes, edges


class _Trace:
    __slots__ = ("spans", "last_seen", "shown_n", "has_root")

    def __init__(self):
        self.spans = collections.OrderedDict()
        self.last_seen = 0.0
        self.shown_n = 0
        self.has_root = False


class TraceStore:
    """Spans received so far, grouped by trace; bounded to max_traces traces."""

    def __init__(self, quiet=1.5, orphan_wait=None, max_traces=5000, clock=time.monotonic):
        self.quiet = quiet
        self.orphan_wait = orphan_wait if orphan_wait is not None else max(10.0, 4 * quiet)
        self.max_traces = max_traces
        self.clock = clock
        self.lock = threading.Lock()
        self.traces = collections.OrderedDict()  # trace_id -> _Trace, least recent first
        self.span_count = 0
        self.evicted = 0

    def add(self, spans):
        now = self.clock()
        with self.lock:
            for sp in spans:
                t = self.traces.get(sp["trace_id"])
                if t is None:
                    t = self.traces[sp["trace_id"]] = _Trace()
                t.spans[sp["span_id"]] = sp
                t.last_seen = now
                if not sp["parent_span_id"]:
                    t.has_root = True
                self.traces.move_to_end(sp["trace_id"])
                self.span_count += 1
            self._evict()

    def _evict(self):
        while len(self.traces) > self.max_traces:
            tid, t = next(iter(self.traces.items()))
            del self.traces[tid]
            self.evicted += 1

    def due(self, flush=False):
        """Traces to show now, as TraceViews, oldest first; they are marked as shown."""
        now = self.clock()
        out = []
        with self.lock:
            for tid, t in self.traces.items():
                if len(t.spans) <= t.shown_n:
                    continue
                quiet_for = now - t.last_seen
                wait = self.quiet if t.has_root else self.orphan_wait
                if flush or quiet_for >= wait:
                    out.append((tid, list(t.spans.values()), t.shown_n))
                    t.shown_n = len(t.spans)
        return [analyze(tid, spans, updated) for tid, spans, updated in out]

    def pending(self):
        with self.lock:
            return sum(1 for t in self.traces.values() if len(t.spans) > t.shown_n)

    def shown_views(self, limit):
        """The last `limit` traces that were shown, analysed, most recent last."""
        with self.lock:
            items = [(tid, list(t.spans.values())) for tid, t in self.traces.items()
                     if t.shown_n > 0]
        return [analyze(tid, spans) for tid, spans in items[-limit:]]
