#include "api_error.h"

#include <nlohmann/json.hpp>

#include "tidemark/client.h"

namespace tidemark::detail {

ApiError parseApiError(int status, std::string_view body) {
  ApiError e{status, "unknown", ""};
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.contains("error") && doc["error"].is_object()) {
    const nlohmann::json& error = doc["error"];
    if (error.contains("code") && error["code"].is_string()) {
      e.code = error["code"].get<std::string>();
      if (error.contains("message") && error["message"].is_string()) {
        e.message = error["message"].get<std::string>();
      }
      return e;
    }
  }
  e.message = std::string(body.substr(0, 500));
  return e;
}

void throwApiError(ApiError e) {
  switch (e.status) {
    case 400:
      throw BadRequest(e.status, std::move(e.code), std::move(e.message));
    case 401:
      throw Unauthenticated(e.status, std::move(e.code), std::move(e.message));
    case 404:
      throw NotFound(e.status, std::move(e.code), std::move(e.message));
    case 405:
      throw MethodNotAllowed(e.status, std::move(e.code), std::move(e.message));
    case 409:
      throw Conflict(e.status, std::move(e.code), std::move(e.message));
    case 413:
      throw PayloadTooLarge(e.status, std::move(e.code), std::move(e.message));
    default:
      if (e.status >= 500 && e.status <= 599) {
        throw ServerError(e.status, std::move(e.code), std::move(e.message));
      }
      throw Error(e.status, std::move(e.code), std::move(e.message));
  }
}

}  // namespace tidemark::detail
