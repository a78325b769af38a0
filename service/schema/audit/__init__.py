"""The audit trail: every recorded event as an auditor reads it, paged by cursor, and the hash chain's head."""
