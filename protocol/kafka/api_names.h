#pragma once

// Kafka's API names by key (through Kafka 3.8), for logs and metric labels.
// Facts from the protocol guide; tests/protocol/test_definitions_vs_reference.py
// checks them against ../shared/kafka-protocol where that folder has the API.

#include <cstdint>
#include <string>

namespace tidemark::kafka {

// "Produce" for 0, ...; "api_key_N" for a key Kafka 3.8 does not define.
std::string apiName(int16_t key);

}  // namespace tidemark::kafka
