"""Plan: the changes that would converge the account, and how they are computed."""
