"""Pipeline stages: pure functions from records to records; `Rejected` carries the reason a document stops."""


class Rejected(Exception):
    """A document that cannot become an article; `reason` is short and stable, `detail` says more."""

    def __init__(self, reason: str, detail: str | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # keep reason and detail across a process boundary (streams.pipeline.budget)
        return (Rejected, (self.reason, self.detail))
