"""Webhooks: an admin's management of its partnership's webhooks and their delivery logs.

The delivery engine is service/webhooks/; this feature only translates: parse, check access, one call.
"""
