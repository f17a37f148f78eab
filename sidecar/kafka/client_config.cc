#include "sidecar/kafka/client_config.h"

#include <librdkafka/rdkafka.h>

namespace tidemark::kafka {

StatusOr<rd_kafka_conf_t*> makeConfig(
    const std::string& bootstrap_servers, const ClientTls& tls,
    const std::vector<std::pair<std::string, std::string>>& settings) {
  std::vector<std::pair<std::string, std::string>> all = {{"bootstrap.servers", bootstrap_servers},
                                                          {"log.connection.close", "false"}};
  if (tls.enabled) {
    all.emplace_back("security.protocol", "ssl");
    if (!tls.ca_file.empty()) all.emplace_back("ssl.ca.location", tls.ca_file);
    if (!tls.cert_file.empty()) all.emplace_back("ssl.certificate.location", tls.cert_file);
    if (!tls.key_file.empty()) all.emplace_back("ssl.key.location", tls.key_file);
    if (!tls.verify) all.emplace_back("enable.ssl.certificate.verification", "false");
  }
  all.insert(all.end(), settings.begin(), settings.end());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  for (const auto& [key, value] : all) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return invalidArgument("librdkafka " + key + ": " + err);
    }
  }
  return conf;
}

}  // namespace tidemark::kafka
