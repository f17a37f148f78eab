// Writes a seed corpus for kafka_codec_fuzz: a valid random body for every
// API x version x direction, in the fuzz target's input layout.
//   tidemark-make-seed-corpus OUT_DIR

#include <cstdio>
#include <fstream>
#include <string>

#include "protocol/kafka/messages.h"
#include "protocol/kafka/testing.h"

using namespace tidemark::kafka;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  testing::Rng rng(20261126);
  size_t written = 0;
  for (size_t i = 0; i < std::size(kApis); ++i) {
    const ApiInfo& api = kApis[i];
    for (int16_t v = api.min_version; v <= api.max_version; ++v) {
      for (int request = 0; request < 2; ++request) {
        std::string body;
        if (!testing::randomBody(api.key, v, request == 1, rng, &body).isOk()) return 1;
        std::string input{static_cast<char>(i), static_cast<char>(v - api.min_version),
                          static_cast<char>(request)};
        input += body;
        std::string name = std::string(argv[1]) + "/seed-" + api.name + "-v" + std::to_string(v) +
                           (request ? "-request" : "-response");
        std::ofstream(name, std::ios::binary) << input;
        ++written;
      }
    }
  }
  std::printf("wrote %zu seeds\n", written);
  return 0;
}
