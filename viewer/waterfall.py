"""The terminal waterfall of one trace.

One line per span, in tree order:

  SERVICE  KIND  SPAN (indented two spaces per level)  STATUS  START  DURATION  |bar|  marks

START is the offset from the trace's first span, DURATION the span's own; the bar spans the
columns [start, end] of the trace's time range scaled to BAR_WIDTH (at least one column, so a
1 us span is still visible). The span with the largest self time is marked "dominant", orphans
(parent not received) "orphan", and a summary line names the dominant span. STATUS is the HTTP
status code attribute, else ERR for a span with an error status, else empty.

The output is plain text (no colours, no cursor movement), so that it reads the same in a
terminal, a log file and a test. Unicode block characters are used when the output encoding
can carry them, ASCII otherwise.
"""

BAR_WIDTH = 40
SERVICE_MAX = 16
NAME_MAX = 44


def fmt_dur(ns):
    """Human duration, always in ms below 10 s: '0.35 ms', '12.3 ms', '305.1 ms', '12.3 s'."""
    ms = ns / 1e6
    if ms >= 10000:
        return "%.1f s" % (ms / 1000)
    if ms >= 10:
        return "%.1f ms" % ms
    return "%.2f ms" % ms


def _clip(s, n, ell):
    return s if len(s) <= n else s[:n - 1] + ell


def status_text(sp):
    code = sp["attributes"].get("http.response.status_code")
    if isinstance(code, int):
        return str(code)
    return "ERR" if sp["status_code"] == 2 else ""


def bar(view, sp, width, full, empty):
    """The bar of one span: `width` cells, filled over the span's time range."""
    total = view.duration_ns
    s = sp["start_ns"] - view.t0
    e = max(sp["end_ns"], sp["start_ns"]) - view.t0
    if total <= 0:
        a, b = 0, width
    else:
        a = min(width - 1, int(s * width / total))
        b = max(a + 1, min(width, -(-e * width // total)))
    return empty * a + full * (b - a) + empty * (width - b)


def render(view, unicode=True, width=BAR_WIDTH):
    """The lines (without newlines) showing one TraceView."""
    full, empty = ("\u2588", " ") if unicode else ("#", " ")
    ell = "\u2026" if unicode else "~"
    arrow = "\u25c0" if unicode else "<-"
    dot = " \u00b7 " if unicode else ", "
    n = len(view.rows)
    head = "trace %s%s%d span%s%s%d service%s%s%s" % (
        view.trace_id, dot, n, "" if n == 1 else "s", dot, len(view.services),
        "" if len(view.services) == 1 else "s", dot, fmt_dur(view.duration_ns))
    if view.updated:
        head += "%supdated: %d late span%s" % (dot, n - view.updated,
                                               "" if n - view.updated == 1 else "s")
    svc_w = max([7] + [min(SERVICE_MAX, len(r.span["service"])) for r in view.rows])
    name_w = max([4] + [min(NAME_MAX, 2 * r.depth + len(r.span["name"])) for r in view.rows])
    lines = [head]
    scale = "0" + " " * (width - 1 - len(fmt_dur(view.duration_ns))) + fmt_dur(view.duration_ns)
    lines.append("  %-*s  %-6s  %-*s  %6s  %10s  %10s  |%s|" % (
        svc_w, "SERVICE", "KIND", name_w, "SPAN", "STATUS", "START", "DURATION", scale))
    for r in view.rows:
        sp = r.span
        name = _clip("  " * r.depth + (sp["name"] or "(unnamed)"), NAME_MAX, ell)
        line = "  %-*s  %-6s  %-*s  %6s  %10s  %10s  |%s|" % (
            svc_w, _clip(sp["service"], SERVICE_MAX, ell), sp["kind_name"][:6], name_w, name,
            status_text(sp), "+" + fmt_dur(sp["start_ns"] - view.t0),
            fmt_dur(max(0, sp["end_ns"] - sp["start_ns"])), bar(view, sp, width, full, empty))
        marks = []
        if r.dominant:
            pct = 100.0 * r.self_ns / view.duration_ns if view.duration_ns else 100.0
            marks.append("%s dominant: %s self (%.0f%%)" % (arrow, fmt_dur(r.self_ns), pct))
        if r.orphan:
            marks.append("%s orphan: parent %s not received" % (arrow, sp["parent_span_id"]))
        lines.append(line + ("  " + "  ".join(marks) if marks else ""))
    d = view.dominant
    if d is not None:
        pct = 100.0 * d.self_ns / view.duration_ns if view.duration_ns else 100.0
        lines.append("  dominant: %s %s %s: %s of the trace's %s spent in this span itself "
                     "(%.0f%%)" % (d.span["service"], d.span["kind_name"], d.span["name"],
                                   fmt_dur(d.self_ns), fmt_dur(view.duration_ns), pct))
    return lines


def render_graph(nodes, edges, unicode=True):
    """A few lines listing the service graph's edges."""
    arrow = "\u2192" if unicode else "->"
    lines = ["service graph: %d service%s, %d edge%s" % (
        len(nodes), "" if len(nodes) == 1 else "s", len(edges), "" if len(edges) == 1 else "s")]
    for (a, b), e in edges.items():
        lines.append("  %s %s %s: %d call%s, avg %s, max %s%s" % (
            a, arrow, b, e["count"], "" if e["count"] == 1 else "s",
            fmt_dur(e["total_ns"] // max(1, e["count"])), fmt_dur(e["max_ns"]),
            ", %d error%s" % (e["errors"], "" if e["errors"] == 1 else "s")
            if e["errors"] else ""))
    return lines
