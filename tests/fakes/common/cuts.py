"""Answers to lose, for every fake's `POST /_fake/cut {"action", "count",
"answer"}`: the next successful request of that operation is carried out,
then its answer is lost, so the client cannot know whether it arrived
(README "When things go wrong"). Lost how: the connection closes without a
byte (`answer` absent), or a gateway answers in the server's place with
that status (502 or 504, as a proxy does when the server is slow or its
connection to it breaks)."""


class Cuts:
    """Operation name → (answers still to lose, how). Callers hold the lock
    that guards their fake's call counter."""

    def __init__(self, fold=str):
        self.left = {}
        self.fold = fold  # how names compare (Azure's are case-insensitive)

    def arm(self, action, count=1, answer=None):
        if answer is not None and int(answer) not in (502, 504):
            raise ValueError("answer: 502 or 504 (a gateway's), or absent (the connection closes)")
        self.left[self.fold(action)] = (int(count), None if answer is None else int(answer))
        return int(count)

    def take(self, name, calls):
        """How this request's (successful) answer is to be lost: None to
        answer it, "drop", or a gateway's status. Each loss is counted in
        `calls` as "cut"."""
        key = self.fold(name or "")
        count, answer = self.left.get(key, (0, None))
        if count <= 0:
            return None
        self.left[key] = (count - 1, answer)
        calls["cut"] += 1
        return answer or "drop"
