package dev.tidemark.client;

import java.nio.charset.StandardCharsets;
import java.util.Map;

/** The exception for an answer with a non-2xx status. */
final class Errors {
  private Errors() {}

  /**
   * {@code body} is the answer's bytes: the API's {@code {"error": {"code",
   * "message"}}}, or anything else (a proxy's page, say), whose code is then
   * {@code http_<status>}.
   */
  static TidemarkException fromResponse(int status, byte[] body, String what) {
    String text = new String(body, StandardCharsets.UTF_8);
    String code = "http_" + status;
    String message = text.length() > 200 ? text.substring(0, 200) + "..." : text;
    try {
      Object doc = Json.parse(text);
      if (doc instanceof Map) {
        Object e = ((Map<?, ?>) doc).get("error");
        if (e instanceof Map) {
          Object c = ((Map<?, ?>) e).get("code");
          Object m = ((Map<?, ?>) e).get("message");
          if (c instanceof String && !((String) c).isEmpty()) {
            code = (String) c;
            message = m instanceof String ? (String) m : "";
          }
        }
      }
    } catch (Json.JsonException notJson) {
      // keep the text
    }
    String full = (what == null ? "" : what + ": ") + status + " " + code + (message.isEmpty() ? "" : ": " + message);
    switch (status) {
      case 400:
        return new BadRequestException(full, status, code);
      case 401:
        return new UnauthenticatedException(full, status, code);
      case 404:
        return new NotFoundException(full, status, code);
      case 409:
        return new ConflictException(full, status, code);
      case 413:
        return new PayloadTooLargeException(full, status, code);
      default:
        return new TidemarkException(full, status, code);
    }
  }
}
