"""Everything the control API can switch on, plus the call counters and the
per-principal ARM request budgets (x-ms-ratelimit-remaining-subscription-*)."""

import collections
import math
import threading
import time

from tests.fakes.common.cuts import Cuts

HOSTILE_MODES = (
    "redirect", "html", "wrong-root", "wrong-ids", "duplicate-ids", "endless-paging",
    "slow-body", "huge-body", "absurd-retry-after", "echo-secret", "escape-names",
)
# Modes that misbehave below the JSON level; they hit every non-control request,
# the login endpoints included.
TRANSPORT_MODES = ("redirect", "html", "slow-body", "huge-body")


class Faults:
    def __init__(self, reads_per_hour, writes_per_hour):
        self.lock = threading.Lock()
        self.reads_per_hour = reads_per_hour
        self.writes_per_hour = writes_per_hour
        self.reset()

    def reset(self):
        with self.lock:
            self.calls = collections.Counter()
            self.throttle = None          # {"count", "retry_after"}
            self.fails = {}               # action (lower) -> [spec, …]
            self.hostile = None
            self.outage = False
            self.cuts = Cuts(str.lower)
            self.budgets = {}             # (principal, scope, kind) -> [window start, used]

    # ----------------------------------------------------------------- calls
    def count(self, name):
        with self.lock:
            self.calls[name] += 1

    def calls_snapshot(self):
        with self.lock:
            return dict(self.calls)

    def reset_calls(self):
        with self.lock:
            self.calls = collections.Counter()

    # ------------------------------------------------------------- injection
    def set_throttle(self, count, retry_after):
        with self.lock:
            self.throttle = {"count": int(count), "retry_after": int(retry_after)} if count else None

    def take_throttle(self):
        """Retry-After seconds if this request is to be throttled."""
        with self.lock:
            t = self.throttle
            if not t or t["count"] <= 0:
                return None
            t["count"] -= 1
            return t["retry_after"]

    def set_cut(self, action, count, answer=None):
        with self.lock:
            return self.cuts.arm(action, count, answer)

    def take_cut(self, name):
        with self.lock:
            return self.cuts.take(name, self.calls)

    def add_fail(self, action, spec):
        with self.lock:
            self.fails.setdefault(action.lower(), []).append(spec)

    def take_fail(self, action, immediate):
        """The failure spec for this operation kind, if one is armed."""
        with self.lock:
            specs = self.fails.get(action.lower()) or []
            for spec in specs:
                if bool(spec.get("immediate")) == immediate and spec["count"] > 0:
                    spec["count"] -= 1
                    return spec
            return None

    # --------------------------------------------------------------- budgets
    def _limit(self, kind):
        return self.reads_per_hour if kind == "reads" else self.writes_per_hour

    def remaining(self, principal, scope, kind, now=None):
        now = time.time() if now is None else now
        with self.lock:
            b = self.budgets.get((principal, scope, kind))
            if b is None or now - b[0] >= 3600:
                return self._limit(kind)
            return max(0, self._limit(kind) - b[1])

    def spend(self, principal, scope, kind, now=None):
        """Spend one request; returns (remaining, retry_after or None if allowed)."""
        now = time.time() if now is None else now
        with self.lock:
            key = (principal, scope, kind)
            b = self.budgets.get(key)
            if b is None or now - b[0] >= 3600:
                b = self.budgets[key] = [now, 0]
            limit = self._limit(kind)
            if b[1] >= limit:
                return 0, max(1, math.ceil(b[0] + 3600 - now))
            b[1] += 1
            return limit - b[1], None
