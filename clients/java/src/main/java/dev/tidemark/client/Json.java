package dev.tidemark.client;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The small JSON reader and writer the client needs (RFC 8259; the JDK has
 * none). Reading gives {@code Map<String, Object>} (insertion-ordered; a
 * repeated name keeps its last value), {@code List<Object>}, {@code String},
 * {@code Long} (integers that fit; {@code BigInteger} beyond), {@code Double}
 * (numbers with a fraction or exponent; {@code BigDecimal} beyond its range),
 * {@code Boolean} and {@code null}. Writing takes those types, any
 * {@code Number}, {@code Iterable} and arrays of objects.
 */
final class Json {
  private static final int MAX_DEPTH = 512;

  private Json() {}

  /** Malformed JSON text, or a value that cannot be written as JSON. */
  static final class JsonException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    JsonException(String message) {
      super(message);
    }
  }

  // ---- reading ----

  /** Parses one JSON value; anything but whitespace after it is an error. */
  static Object parse(String text) {
    Reader r = new Reader(text);
    r.skipWhitespace();
    Object value = r.value(0);
    r.skipWhitespace();
    if (r.pos != text.length()) throw r.error("unexpected text after the value");
    return value;
  }

  private static final class Reader {
    private final String s;
    private int pos;

    Reader(String s) {
      this.s = s;
    }

    JsonException error(String what) {
      return new JsonException("JSON: " + what + " at offset " + pos);
    }

    void skipWhitespace() {
      while (pos < s.length()) {
        char c = s.charAt(pos);
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
        pos++;
      }
    }

    Object value(int depth) {
      if (depth > MAX_DEPTH) throw error("nested deeper than " + MAX_DEPTH);
      if (pos >= s.length()) throw error("unexpected end");
      char c = s.charAt(pos);
      switch (c) {
        case '{':
          return object(depth);
        case '[':
          return array(depth);
        case '"':
          return string();
        case 't':
          literal("true");
          return Boolean.TRUE;
        case 'f':
          literal("false");
          return Boolean.FALSE;
        case 'n':
          literal("null");
          return null;
        default:
          if (c == '-' || (c >= '0' && c <= '9')) return number();
          throw error("unexpected character '" + c + "'");
      }
    }

    void literal(String word) {
      if (!s.startsWith(word, pos)) throw error("expected " + word);
      pos += word.length();
    }

    Map<String, Object> object(int depth) {
      pos++; // {
      Map<String, Object> out = new LinkedHashMap<>();
      skipWhitespace();
      if (pos < s.length() && s.charAt(pos) == '}') {
        pos++;
        return out;
      }
      while (true) {
        skipWhitespace();
        if (pos >= s.length() || s.charAt(pos) != '"') throw error("expected a member name");
        String name = string();
        skipWhitespace();
        if (pos >= s.length() || s.charAt(pos) != ':') throw error("expected ':'");
        pos++;
        skipWhitespace();
        out.put(name, value(depth + 1));
        skipWhitespace();
        if (pos >= s.length()) throw error("unterminated object");
        char c = s.charAt(pos++);
        if (c == '}') return out;
        if (c != ',') {
          pos--;
          throw error("expected ',' or '}'");
        }
      }
    }

    List<Object> array(int depth) {
      pos++; // [
      List<Object> out = new ArrayList<>();
      skipWhitespace();
      if (pos < s.length() && s.charAt(pos) == ']') {
        pos++;
        return out;
      }
      while (true) {
        skipWhitespace();
        out.add(value(depth + 1));
        skipWhitespace();
        if (pos >= s.length()) throw error("unterminated array");
        char c = s.charAt(pos++);
        if (c == ']') return out;
        if (c != ',') {
          pos--;
          throw error("expected ',' or ']'");
        }
      }
    }

    String string() {
      pos++; // "
      StringBuilder out = new StringBuilder();
      while (true) {
        if (pos >= s.length()) throw error("unterminated string");
        char c = s.charAt(pos++);
        if (c == '"') return out.toString();
        if (c < 0x20) {
          pos--;
          throw error("control character in a string");
        }
        if (c != '\\') {
          out.append(c);
          continue;
        }
        if (pos >= s.length()) throw error("unterminated escape");
        char e = s.charAt(pos++);
        switch (e) {
          case '"':
            out.append('"');
            break;
          case '\\':
            out.append('\\');
            break;
          case '/':
            out.append('/');
            break;
          case 'b':
            out.append('\b');
            break;
          case 'f':
            out.append('\f');
            break;
          case 'n':
            out.append('\n');
            break;
          case 'r':
            out.append('\r');
            break;
          case 't':
            out.append('\t');
            break;
          case 'u':
            out.append(hex4());
            break;
          default:
            pos--;
            throw error("invalid escape \\" + e);
        }
      }
    }

    char hex4() {
      if (pos + 4 > s.length()) throw error("short \\u escape");
      int v = 0;
      for (int k = 0; k < 4; k++) {
        int d = Character.digit(s.charAt(pos + k), 16);
        if (d < 0) throw error("invalid \\u escape");
        v = v * 16 + d;
      }
      pos += 4;
      return (char) v;
    }

    Number number() {
      int start = pos;
      if (s.charAt(pos) == '-') pos++;
      if (pos >= s.length()) throw error("expected a digit");
      if (s.charAt(pos) == '0') {
        pos++;
      } else if (s.charAt(pos) >= '1' && s.charAt(pos) <= '9') {
        digits();
      } else {
        throw error("expected a digit");
      }
      boolean integral = true;
      if (pos < s.length() && s.charAt(pos) == '.') {
        integral = false;
        pos++;
        if (pos >= s.length() || !isDigit(s.charAt(pos))) throw error("expected a digit after '.'");
        digits();
      }
      if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
        integral = false;
        pos++;
        if (pos < s.length() && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) pos++;
        if (pos >= s.length() || !isDigit(s.charAt(pos))) throw error("expected an exponent");
        digits();
      }
      String text = s.substring(start, pos);
      if (integral) {
        try {
          return Long.parseLong(text);
        } catch (NumberFormatException tooBig) {
          return new BigInteger(text);
        }
      }
      double d = Double.parseDouble(text);
      return Double.isInfinite(d) ? new BigDecimal(text) : (Number) d;
    }

    void digits() {
      while (pos < s.length() && isDigit(s.charAt(pos))) pos++;
    }

    static boolean isDigit(char c) {
      return c >= '0' && c <= '9';
    }
  }

  // ---- writing ----

  /** The JSON text of {@code value}. */
  static String write(Object value) {
    StringBuilder out = new StringBuilder();
    write(out, value, 0);
    return out.toString();
  }

  private static void write(StringBuilder out, Object v, int depth) {
    if (depth > MAX_DEPTH) throw new JsonException("JSON: nested deeper than " + MAX_DEPTH);
    if (v == null) {
      out.append("null");
    } else if (v instanceof String) {
      quote(out, (String) v);
    } else if (v instanceof Boolean) {
      out.append(v.toString());
    } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte
        || v instanceof BigInteger || v instanceof BigDecimal) {
      out.append(v.toString());
    } else if (v instanceof Double || v instanceof Float) {
      double d = ((Number) v).doubleValue();
      if (Double.isNaN(d) || Double.isInfinite(d)) throw new JsonException("JSON: " + d + " is not a JSON number");
      out.append(v.toString());
    } else if (v instanceof Map) {
      out.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
        if (!(e.getKey() instanceof String)) throw new JsonException("JSON: object member names must be strings");
        if (!first) out.append(',');
        first = false;
        quote(out, (String) e.getKey());
        out.append(':');
        write(out, e.getValue(), depth + 1);
      }
      out.append('}');
    } else if (v instanceof Iterable || v instanceof Object[]) {
      Iterable<?> items = v instanceof Object[] ? java.util.Arrays.asList((Object[]) v) : (Iterable<?>) v;
      out.append('[');
      boolean first = true;
      for (Object item : items) {
        if (!first) out.append(',');
        first = false;
        write(out, item, depth + 1);
      }
      out.append(']');
    } else {
      throw new JsonException("JSON: cannot write a " + v.getClass().getName());
    }
  }

  private static void quote(StringBuilder out, String s) {
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        default:
          // Control characters, and surrogates (a lone one would not survive
          // UTF-8 encoding), as \\u escapes.
          if (c < 0x20 || Character.isSurrogate(c)) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
      }
    }
    out.append('"');
  }

  // ---- typed access to parsed documents ----

  @SuppressWarnings("unchecked")
  static Map<String, Object> object(Object v, String what) {
    if (!(v instanceof Map)) throw new JsonException(what + ": expected a JSON object");
    return (Map<String, Object>) v;
  }

  @SuppressWarnings("unchecked")
  static List<Object> array(Object v, String what) {
    if (!(v instanceof List)) throw new JsonException(what + ": expected a JSON array");
    return (List<Object>) v;
  }

  static Object member(Map<String, Object> o, String name) {
    if (!o.containsKey(name)) throw new JsonException("missing \"" + name + "\"");
    return o.get(name);
  }

  static String string(Map<String, Object> o, String name) {
    Object v = member(o, name);
    if (!(v instanceof String)) throw new JsonException("\"" + name + "\": expected a string");
    return (String) v;
  }

  /** A string member, or null when absent or null. */
  static String optString(Map<String, Object> o, String name) {
    Object v = o.get(name);
    if (v == null) return null;
    if (!(v instanceof String)) throw new JsonException("\"" + name + "\": expected a string");
    return (String) v;
  }

  static long integer(Map<String, Object> o, String name) {
    Object v = member(o, name);
    if (!(v instanceof Long)) throw new JsonException("\"" + name + "\": expected a 64-bit integer");
    return (Long) v;
  }

  static int int32(Map<String, Object> o, String name) {
    long v = integer(o, name);
    if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
      throw new JsonException("\"" + name + "\": " + v + " is beyond a 32-bit integer");
    }
    return (int) v;
  }

  static List<Object> list(Map<String, Object> o, String name) {
    return Collections.unmodifiableList(array(member(o, name), "\"" + name + "\""));
  }
}
