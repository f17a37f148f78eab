"""Python client of the Tidemark sidecar's local HTTP API (stdlib only).

    import tidemark
    client = tidemark.Client("http://127.0.0.1:8770", token_file="/var/run/tidemark/token")
    etag = client.put_state("counts/word", b"42")
    client.mark_offsets([{"group": "g", "topic": "t", "partition": 0, "offset": 10}])
    client.get_state("counts/word")   # State(value=b'42', ...), or None

Rebalance helpers for confluent-kafka and kafka-python: `tidemark.kafka`.
"""

from tidemark.client import DEFAULT_URL, Client, State, StateInfo, encode_key
from tidemark.errors import (BadRequest, Conflict, MethodNotAllowed, NotFound, PayloadTooLarge,
                             ServerError, TidemarkError, TransportError, Unauthenticated)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL", "Client", "State", "StateInfo", "encode_key",
    "TidemarkError", "BadRequest", "Unauthenticated", "NotFound", "MethodNotAllowed", "Conflict",
    "PayloadTooLarge", "ServerError", "TransportError",
]
