"""One construct per capability, each usable on its own in a user's stack."""
