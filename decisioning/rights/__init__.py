"""A customer's rights that reach decisions and the queue: consent changes, do-not-contact,
erasure."""
