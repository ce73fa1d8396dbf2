"""The outbound queue: leasing through the pre-send gate, acks, cancellation, and their audit
records."""
