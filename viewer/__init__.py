"""wiretrace-view: a local OTLP/HTTP trace receiver that draws waterfalls.

Modules (standard library only, so Debian's /usr/bin/python3 runs it as is):
  otlp_decode  protobuf wire decoder and OTLP/JSON reader -> flat span dicts
  traces       trace assembly: grouping, completion, tree, self time, service graph
  waterfall    the terminal rendering of one trace
  html_page    the self-contained HTML page (waterfalls + service graph as inline SVG)
  receiver     the HTTP server: POST /v1/traces, content types, gzip, responses
"""
