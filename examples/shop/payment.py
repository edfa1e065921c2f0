#!/usr/bin/python3
"""payment: the demo shop's card charging service (Python standard library, no tracing code).

POST /charges {"amount": 2500, "card": "4242424242424242"}
  -> 201 {"charge": "ch_1001", "amount": 2500} after ~15 ms (the bank's answer),
  -> 402 {"error": "card declined"} for the test card 4000000000000002.
"""

import itertools
import threading
import time

import shoplib

DECLINED = "4000000000000002"
CHARGE_IDS = itertools.count(1001)
LOCK = threading.Lock()


class Payment(shoplib.Handler):
    routes = {("POST", "/charges"): "charge"}

    def charge(self, req):
        time.sleep(0.015)  # the bank
        if str(req.get("card")) == DECLINED:
            return self.reply(402, {"error": "card declined"})
        amount = int(req.get("amount", 0))
        if amount <= 0:
            return self.reply(400, {"error": "amount must be positive"})
        with LOCK:
            cid = "ch_%d" % next(CHARGE_IDS)
        self.reply(201, {"charge": cid, "amount": amount})


if __name__ == "__main__":
    a = shoplib.args("payment", 8083)
    shoplib.serve("payment", Payment, a.port)
