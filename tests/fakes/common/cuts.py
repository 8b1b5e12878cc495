"""Answers to lose, for every fake's `POST /_fake/cut {"action", "count"}`:
the next successful request of that operation is carried out, then its
connection is closed without a byte of answer, so the client cannot know
whether it arrived (README "When things go wrong")."""


class Cuts:
    """Operation name → answers still to lose. Callers hold the lock that
    guards their fake's call counter."""

    def __init__(self, fold=str):
        self.left = {}
        self.fold = fold  # how names compare (Azure's are case-insensitive)

    def arm(self, action, count=1):
        self.left[self.fold(action)] = int(count)
        return self.left[self.fold(action)]

    def take(self, name, calls):
        """Whether this request's (successful) answer is to be lost; each
        loss is counted in `calls` as "cut"."""
        key = self.fold(name or "")
        if self.left.get(key, 0) <= 0:
            return False
        self.left[key] -= 1
        calls["cut"] += 1
        return True
