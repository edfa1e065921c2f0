"""Crash spool files: exporting what a crashed traced process left behind.

When a traced program dies of a fatal signal, the agent writes its in-flight spans (ERROR,
with the faulting stack) as one OTLP ExportTraceServiceRequest file named crash-*.otlp into the
spool directory (WIRETRACE_SPOOL_DIR; default $XDG_RUNTIME_DIR/wiretrace/spool, else
/tmp/wiretrace-<uid>/spool). The next agent with the same exporter configuration exports them;
so does the viewer, the local backend: it takes every crash file it finds, whatever the
configuration it was meant for.

The protocol is the agent's (exporter/spool.c): a file is claimed by renaming it to
"<stem>.claim-<pid>" (atomic: two readers never take the same file), decoded, and removed;
a file that does not decode is renamed "<stem>.bad" and reported once, never read again.
"""

import os

from . import otlp_decode


def default_dir():
    d = os.environ.get("WIRETRACE_SPOOL_DIR")
    if d and d.startswith("/"):
        return d
    x = os.environ.get("XDG_RUNTIME_DIR")
    if x and x.startswith("/"):
        return os.path.join(x, "wiretrace", "spool")
    return "/tmp/wiretrace-%d/spool" % os.getuid()


def take(directory, accept, note_error):
    """Import every finished crash file of `directory`: accept(spans) for each decoded file,
    note_error(message) for each damaged one. Returns the number of files imported. A missing
    directory is not an error (no process crashed)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return 0
    done = 0
    for name in names:
        if not (name.startswith("crash-") and name.endswith(".otlp")):
            continue
        stem = name[:-len(".otlp")]
        claim = os.path.join(directory, "%s.claim-%d" % (stem, os.getpid()))
        try:
            os.rename(os.path.join(directory, name), claim)
        except OSError:
            continue  # taken by an agent or another viewer meanwhile
        try:
            with open(claim, "rb") as f:
                spans, _ = otlp_decode.decode_protobuf(f.read())
        except (OSError, ValueError) as e:
            try:
                os.rename(claim, os.path.join(directory, stem + ".bad"))
            except OSError:
                pass
            note_error("damaged crash file %s moved aside as %s.bad: %s" % (name, stem, e))
            continue
        accept(spans)
        try:
            os.unlink(claim)
        except OSError:
            pass
        done += 1
    return done
