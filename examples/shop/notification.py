#!/usr/bin/python3
"""notification: the demo shop's mailer (Python standard library, no tracing code).

POST /notify {"order": 1001, ...} -> 202 at once; the mail is "sent" afterwards, on the same
thread, after the response is out: the caller does not wait for it (fire-and-forget).
"""

import sys
import time

import shoplib


class Notification(shoplib.Handler):
    routes = {("POST", "/notify"): "notify"}

    def notify(self, req):
        self.reply(202, {"queued": True})
        time.sleep(0.05)  # talking to the mail server, after the caller got its answer
        sys.stderr.write("notification: mailed the confirmation of order %s\n"
                         % req.get("order"))


if __name__ == "__main__":
    a = shoplib.args("notification", 8084)
    shoplib.serve("notification", Notification, a.port)
