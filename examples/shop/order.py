#!/usr/bin/python3
"""order: the demo shop's front service (Python standard library, no tracing code).

POST /orders {"item": "book", "quantity": 2, "card": "4242..."}:
  1. GET  inventory /stock/{item}          is there enough?
  2. POST inventory /stock/{item}/reserve  (slow for large quantities)
  3. POST payment   /charges               charge the card
  4. POST notification /notify             fire-and-forget: the notification service answers
                                           202 at once and sends the mail afterwards; a
                                           failure here does not fail the order
  -> 201 {"order": ..., "charge": ...}, or the upstream's error (404, 409, 402, 502).
"""

import itertools

import shoplib

PRICES = {"book": 1250, "lamp": 3900, "mug": 800, "pen": 150}  # cents
ORDER_IDS = itertools.count(1001)


class Order(shoplib.Handler):
    routes = {("POST", "/orders"): "create"}

    def create(self, req):
        item, qty = str(req.get("item", "")), int(req.get("quantity", 1))
        up = self.server.upstreams
        code, stock = shoplib.call("GET", "%s/stock/%s" % (up.inventory, item))
        if code != 200:
            return self.reply(code if code == 404 else 502,
                              {"error": "stock lookup", "detail": stock})
        if stock["available"] < qty:
            return self.reply(409, {"error": "only %d %s left" % (stock["available"], item)})
        code, res = shoplib.call("POST", "%s/stock/%s/reserve" % (up.inventory, item),
                                 {"quantity": qty})
        if code != 200:
            return self.reply(409 if code == 409 else 502, {"error": "reservation", "detail": res})
        amount = PRICES.get(item, 1000) * qty
        code, charge = shoplib.call("POST", up.payment + "/charges",
                                    {"amount": amount, "card": req.get("card", "4242424242424242")})
        if code != 201:
            return self.reply(402 if code == 402 else 502, {"error": "payment", "detail": charge})
        order_id = next(ORDER_IDS)
        try:  # fire-and-forget: the answer does not matter
            shoplib.call("POST", up.notification + "/notify",
                         {"order": order_id, "item": item, "quantity": qty}, timeout=2)
        except OSError:
            pass
        self.reply(201, {"order": order_id, "item": item, "quantity": qty,
                         "amount": amount, "charge": charge.get("charge")})


if __name__ == "__main__":
    a = shoplib.args("order", 8081, ("inventory", "payment", "notification"))
    shoplib.serve("order", Order, a.port, upstreams=a)
