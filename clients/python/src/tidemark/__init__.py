"""Python client of the Tidemark sidecar's local HTTP API (stdlib only).

    import tidemark
    client = tidemark.Client("http://127.0.0.1:8770", token_file="/var/run/tidemark/token")
    etag = client.put_state("counts/word", b"42")
    client.mark_offsets([{"group": "g", "topic": "t", "partition": 0, "offset": 10}])
    client.get_state("counts/word")   # State(value=b'42', ...), or None
    client.partition("g", "t", 0).put_state("counts/word", b"1")  # partition-scoped state

Rebalance helpers for confluent-kafka and kafka-python: `tidemark.kafka`.
"""

from tidemark.client import (DEFAULT_URL, Client, PartitionState, State, StateInfo, encode_key,
                             encode_partition)
from tidemark.errors import (BadRequest, Conflict, MethodNotAllowed, NotFound, PayloadTooLarge,
                             ServerError, TidemarkError, TransportError, Unauthenticated)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_URL", "Client", "PartitionState", "State", "StateInfo", "encode_key",
    "encode_partition",
    "TidemarkError", "BadRequest", "Unauthenticated", "NotFound", "MethodNotAllowed", "Conflict",
    "PayloadTooLarge", "ServerError", "TransportError",
]
