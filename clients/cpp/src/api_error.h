#pragma once

// How an error answer becomes the typed tidemark::Error the caller catches:
// one table from status to class, as in the other clients
// (clients/python/src/tidemark/errors.py).

#include <string>
#include <string_view>

namespace tidemark::detail {

struct ApiError {
  int status = 0;
  std::string code;  // error.code of the body; "unknown" when the body is not the API's
  std::string message;
};

// Reads `{"error": {"code": ..., "message": ...}}`; anything else (a proxy's
// page, an empty body) gives code "unknown" and the body's start as message.
ApiError parseApiError(int status, std::string_view body);

// Throws the subclass of tidemark::Error for e.status (400 BadRequest, 401
// Unauthenticated, 404 NotFound, 405 MethodNotAllowed, 409 Conflict, 413
// PayloadTooLarge, 5xx ServerError, any other: Error itself).
[[noreturn]] void throwApiError(ApiError e);

}  // namespace tidemark::detail
