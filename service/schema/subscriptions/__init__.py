"""Subscriptions: status changes and ledger events, replayed from a cursor and then live."""
