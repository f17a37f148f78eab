package dev.tidemark.client;

/**
 * Every error {@link TidemarkClient} throws. One the sidecar answered carries
 * its HTTP {@link #status()} and the API error {@link #code()} from its JSON
 * body ({@code {"error": {"code", "message"}}}); the common statuses have their
 * own subclass. A request that got no answer is a {@link TransportException}
 * (status 0).
 */
public class TidemarkException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int status;
  private final String code;

  public TidemarkException(String message, int status, String code) {
    this(message, status, code, null);
  }

  public TidemarkException(String message, int status, String code, Throwable cause) {
    super(message, cause);
    this.status = status;
    this.code = code;
  }

  /** The HTTP status of the sidecar's answer; 0 when there was none. */
  public int status() {
    return status;
  }

  /** The API error code ({@code error.code}), e.g. {@code "precondition_failed"}. */
  public String code() {
    return code;
  }
}
