"""A catalogue of summaries: one job per book, rendered by a local process pool or by RQ workers on Redis."""
