"""End users of a project: their accounts, sessions and the tokens apps send."""
