"""The self-contained HTML page: the service graph and the waterfalls of the latest traces.

One file with inline CSS and an inline SVG graph: no script, no external asset, so it opens
from disk anywhere and a headless browser can render it offline. Every element a test or a
person may look for carries data attributes (data-service, data-from/data-to, data-span-id,
data-parent-id, data-depth); the graph's edges are also listed in a table, which reads better
in a screen reader than an SVG.

Graph layout: services are placed in columns by their distance from the callers (a service
nobody calls is in column 0; a callee is one column right of its furthest caller, bounded so a
call cycle cannot loop), top to bottom within a column in order of first appearance. Edges are
drawn from the caller's right side to the callee's left side, labelled with the call count and
the client-observed average latency.

write_page() replaces the file atomically (write a temporary file, then rename), so a browser
reloading it never sees half a page.
"""

import html
import os
import tempfile
import time
import zlib

from .waterfall import fmt_dur, status_text

NODE_W, NODE_H, COL_W, ROW_H, PAD = 160, 44, 360, 90, 30

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em} h2{font-size:1.15em;margin:1.2em 0 .4em}
.meta{color:#666;margin:0 0 1em}
svg.graph{background:#fff;border:1px solid #ddd;border-radius:6px}
.node rect{fill:#eef3ff;stroke:#4a6fd1;stroke-width:1.5}
.node text{font-size:14px;font-weight:600;text-anchor:middle;dominant-baseline:middle}
.edge path{fill:none;stroke:#555;stroke-width:1.5}
.edge text{font-size:12px;fill:#333;text-anchor:middle}
table{border-collapse:collapse} td,th{padding:2px 8px;text-align:left;white-space:nowrap}
table.edges td,table.edges th{border-bottom:1px solid #eee}
.trace{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em 1em;margin:1em 0}
.trace h3{font-size:1em;margin:0 0 .4em;font-family:monospace}
.waterfall{width:100%;font-size:13px}
.waterfall th{color:#666;font-weight:normal;border-bottom:1px solid #ddd}
.waterfall td.num{text-align:right;font-family:monospace}
.waterfall td.barcell{width:40%;min-width:200px;position:relative}
.bar{position:absolute;top:4px;bottom:4px;border-radius:2px;min-width:2px}
tr.dominant{background:#fff3e0} tr.dominant td.name{font-weight:700}
.mark{color:#b45309;font-weight:600} .orphan .mark{color:#b91c1c}
.err{color:#b91c1c;font-weight:600}
"""


def _color(name):
    return "hsl(%d,60%%,55%%)" % (zlib.crc32(name.encode("utf-8")) % 360)


def _layout(nodes, edges):
    col = {s: 0 for s in nodes}
    for _ in range(len(nodes)):  # longest-path relaxation, bounded against cycles
        changed = False
        for (a, b) in edges:
            if a != b and col[b] < col[a] + 1 and col[a] + 1 < len(nodes):
                col[b] = col[a] + 1
                changed = True
        if not changed:
            break
    rows, pos = {}, {}
    for s in nodes:
        r = rows.get(col[s], 0)
        rows[col[s]] = r + 1
        pos[s] = (PAD + col[s] * COL_W, PAD + 16 + r * ROW_H)
    w = PAD * 2 + (max(col.values(), default=0)) * COL_W + NODE_W
    h = PAD * 2 + 16 + max(rows.values(), default=1) * ROW_H
    return pos, w, h


def graph_svg(nodes, edges):
    e = html.escape
    pos, w, h = _layout(nodes, edges)
    out = ['<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" role="img" aria-label="service graph">' % (w, h, w, h),
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
           'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           'fill="#555"/></marker></defs>']
    for (a, b), st in edges.items():
        (ax, ay), (bx, by) = pos[a], pos[b]
        x1, y1 = ax + NODE_W, ay + NODE_H / 2
        x2, y2 = bx, by + NODE_H / 2
        if x2 <= x1:  # same column or backwards: loop around below
            x1, x2 = ax + NODE_W / 2, bx + NODE_W / 2
            y1, y2 = ay + NODE_H, by + NODE_H
            d = "M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f" % (x1, y1, x1, y1 + 60, x2, y2 + 60,
                                                            x2, y2)
            lx, ly, anchor = (x1 + x2) / 2, max(y1, y2) + 50, "middle"
        else:  # label just above the arrow head: labels of edges to different callees part
            mx = (x1 + x2) / 2
            d = "M%.0f,%.0f C%.0f,%.0f %.0f,%.0f %.0f,%.0f" % (x1, y1, mx, y1, mx, y2, x2, y2)
            lx, ly, anchor = x2 - 12, y2 - 8, "end"
        avg = fmt_dur(st["total_ns"] // max(1, st["count"]))
        label = "%d call%s \u00b7 avg %s" % (st["count"], "" if st["count"] == 1 else "s", avg)
        out.append('<g class="edge" data-from="%s" data-to="%s" data-count="%d" '
                   'data-avg="%s"><path d="%s" marker-end="url(#arrow)"/>'
                   '<text x="%.0f" y="%.0f" style="text-anchor:%s">%s</text></g>'
                   % (e(a), e(b), st["count"], e(avg), d, lx, ly, anchor, e(label)))
    for s, count in nodes.items():
        x, y = pos[s]
        out.append('<g class="node" data-service="%s"><rect x="%d" y="%d" width="%d" '
                   'height="%d" rx="8" style="stroke:%s"/><text x="%d" y="%d">%s</text>'
                   '<title>%s: %d span%s</title></g>'
                   % (e(s), x, y, NODE_W, NODE_H, _color(s), x + NODE_W // 2,
                      y + NODE_H // 2, e(s), e(s), count, "" if count == 1 else "s"))
    out.append("</svg>")
    return "\n".join(out)


def edges_table(edges):
    e = html.escape
    rows = ['<table class="edges"><tr><th>caller</th><th>callee</th><th>calls</th>'
            '<th>avg</th><th>max</th><th>errors</th></tr>']
    for (a, b), st in edges.items():
        rows.append('<tr class="edge-row" data-from="%s" data-to="%s"><td>%s</td><td>%s</td>'
                    '<td>%d</td><td>%s</td><td>%s</td><td>%d</td></tr>'
                    % (e(a), e(b), e(a), e(b), st["count"],
                       fmt_dur(st["total_ns"] // max(1, st["count"])), fmt_dur(st["max_ns"]),
                       st["errors"]))
    rows.append("</table>")
    return "\n".join(rows)


def trace_html(view):
    e = html.escape
    total = view.duration_ns or 1
    out = ['<div class="trace" id="t-%s" data-trace-id="%s" data-spans="%d">'
           % (view.trace_id, view.trace_id, len(view.rows)),
           '<h3>trace %s \u00b7 %d span%s \u00b7 %d service%s \u00b7 %s</h3>'
           % (view.trace_id, len(view.rows), "" if len(view.rows) == 1 else "s",
              len(view.services), "" if len(view.services) == 1 else "s",
              fmt_dur(view.duration_ns)),
           '<table class="waterfall"><tr><th>service</th><th>kind</th><th>span</th>'
           '<th>status</th><th>start</th><th>duration</th><th>timeline</th><th></th></tr>']
    for r in view.rows:
        sp = r.span
        left = 100.0 * (sp["start_ns"] - view.t0) / total
        width = 100.0 * max(0, sp["end_ns"] - sp["start_ns"]) / total
        cls = ["span"] + (["dominant"] if r.dominant else []) + (["orphan"] if r.orphan else [])
        mark = ""
        if r.dominant:
            mark = "\u25c0 dominant: %s self" % fmt_dur(r.self_ns)
        if r.orphan:
            mark += " orphan: parent %s not received" % sp["parent_span_id"]
        st = status_text(sp)
        out.append(
            '<tr class="%s" data-span-id="%s" data-parent-id="%s" data-service="%s" '
            'data-kind="%s" data-depth="%d" data-name="%s">'
            '<td>%s</td><td>%s</td><td class="name" style="padding-left:%.1fem">%s</td>'
            '<td class="num%s">%s</td><td class="num">+%s</td><td class="num">%s</td>'
            '<td class="barcell"><div class="bar" style="left:%.2f%%;width:%.2f%%;'
            'background:%s"></div></td><td class="mark">%s</td></tr>'
            % (" ".join(cls), sp["span_id"], sp["parent_span_id"], e(sp["service"]),
               sp["kind_name"], r.depth, e(sp["name"]), e(sp["service"]), sp["kind_name"],
               0.5 + 1.5 * r.depth, e(sp["name"]), " err" if sp["status_code"] == 2 else "",
               e(st), fmt_dur(sp["start_ns"] - view.t0),
               fmt_dur(max(0, sp["end_ns"] - sp["start_ns"])), min(left, 99.5),
               min(width, 100.0 - min(left, 99.5)), _color(sp["service"]), e(mark.strip())))
    out.append("</table></div>")
    return "\n".join(out)


def page(views, nodes, edges, title="wiretrace-view"):
    """The whole page; views most recent last (shown most recent first)."""
    e = html.escape
    parts = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width">',
             '<title>%s</title><style>%s</style></head><body>' % (e(title), CSS),
             '<h1>%s</h1>' % e(title),
             '<p class="meta">%d trace%s shown \u00b7 %d service%s \u00b7 written %s</p>'
             % (len(views), "" if len(views) == 1 else "s", len(nodes),
                "" if len(nodes) == 1 else "s", time.strftime("%Y-%m-%d %H:%M:%S")),
             '<section id="graph"><h2>Service graph</h2>', graph_svg(nodes, edges),
             edges_table(edges), '</section><section id="traces"><h2>Traces</h2>']
    for v in reversed(views):
        parts.append(trace_html(v))
    parts.append("</section></body></html>\n")
    return "\n".join(parts)


def write_page(path, text):
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".wiretrace-view.", dir=d)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
