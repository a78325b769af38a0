"""Whether a GraphQL request only reads: what decides if it may be served by a standby (service/replicas.py)."""

from __future__ import annotations

from collections import OrderedDict

from graphql import OperationDefinitionNode, OperationType, parse

# Documents up to this size have their answer kept, as many as MAX_KEPT: a dashboard sends the same few.
MAX_KEPT_CHARS = 16_384
MAX_KEPT = 512

_kept: OrderedDict[tuple[str, str | None], bool] = OrderedDict()


def reads_only(query: str, operation_name: str | None, max_tokens: int) -> bool:
    """True if the operation the request runs is a query; False for a mutation, a subscription, or a document
    that does not parse or names no single operation (execution reports those, from the primary)."""
    key = (query, operation_name)
    if (known := _kept.get(key)) is not None:
        _kept.move_to_end(key)
        return known
    found = _is_query(query, operation_name, max_tokens)
    if len(query) <= MAX_KEPT_CHARS:
        _kept[key] = found
        while len(_kept) > MAX_KEPT:
            _kept.popitem(last=False)
    return found


def _is_query(query: str, operation_name: str | None, max_tokens: int) -> bool:
    try:
        document = parse(query, no_location=True, max_tokens=max_tokens)
    except Exception:  # a syntax error, too many tokens: execution refuses it
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        chosen = operations[0] if len(operations) == 1 else None
    else:
        chosen = next((o for o in operations if o.name is not None and o.name.value == operation_name), None)
    return chosen is not None and chosen.operation == OperationType.QUERY
