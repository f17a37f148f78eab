package dev.tidemark.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
  @Test
  void parsesEveryKindOfValue() {
    Object doc = Json.parse(" {\"s\": \"x\", \"i\": -12, \"d\": 1.5e2, \"t\": true, \"f\": false, \"n\": null,"
        + " \"a\": [1, [], {}], \"o\": {\"k\": \"v\"}} ");
    Map<String, Object> m = Json.object(doc, "doc");
    assertEquals(List.of("s", "i", "d", "t", "f", "n", "a", "o"), List.copyOf(m.keySet()), "order kept");
    assertEquals("x", m.get("s"));
    assertEquals(-12L, m.get("i"));
    assertEquals(150.0, m.get("d"));
    assertEquals(Boolean.TRUE, m.get("t"));
    assertEquals(Boolean.FALSE, m.get("f"));
    assertTrue(m.containsKey("n"));
    assertNull(m.get("n"));
    assertEquals(Arrays.asList(1L, List.of(), Map.of()), m.get("a"));
    assertEquals(Map.of("k", "v"), m.get("o"));
  }

  @Test
  void numbers() {
    assertEquals(0L, Json.parse("0"));
    assertEquals(-0L, Json.parse("-0"));
    assertEquals(Long.MAX_VALUE, Json.parse("9223372036854775807"));
    assertEquals(Long.MIN_VALUE, Json.parse("-9223372036854775808"));
    assertEquals(new BigInteger("18446744073709551615"), Json.parse("18446744073709551615"));
    assertEquals(0.25, Json.parse("0.25"));
    assertEquals(-1e-3, Json.parse("-1E-3"));
    assertEquals(100.0, Json.parse("1e+2"));
    assertEquals(new BigDecimal("1e400"), Json.parse("1e400"));
    for (String bad : new String[] {"01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "1.5.2", "--1", "Infinity",
        "NaN"}) {
      assertThrows(Json.JsonException.class, () -> Json.parse(bad), bad);
    }
  }

  @Test
  void stringsAndEscapes() {
    assertEquals("a\"b\\c/d\b\f\n\r\t", Json.parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""));
    assertEquals("é€😀", Json.parse("\"\\u00e9\\u20AC\\ud83d\\ude00\""));
    assertEquals("é€😀", Json.parse("\"é€😀\""));
    for (String bad : new String[] {"\"abc", "\"a\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"tab\there\"",
        "\"nl\nhere\"", "\"\\"}) {
      assertThrows(Json.JsonException.class, () -> Json.parse(bad), bad);
    }
  }

  @Test
  void refusesMalformedDocuments() {
    for (String bad : new String[] {"", " ", "{", "}", "[1,]", "[1 2]", "{\"a\" 1}", "{\"a\":1,}", "{a:1}",
        "{\"a\":1", "[1", "tru", "nul", "true false", "{} x", "[] []", "'a'", "{1:2}"}) {
      assertThrows(Json.JsonException.class, () -> Json.parse(bad), bad);
    }
  }

  @Test
  void limitsNesting() {
    assertEquals(List.of(List.of(List.of())), Json.parse("[[[]]]"));
    String deep = "[".repeat(10_000) + "]".repeat(10_000);
    assertThrows(Json.JsonException.class, () -> Json.parse(deep));
  }

  @Test
  void repeatedNamesKeepTheLast() {
    assertEquals(Map.of("a", 2L), Json.parse("{\"a\": 1, \"a\": 2}"));
  }

  @Test
  void writes() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("s", "q\"b\\s\n\u0001é");
    m.put("i", 7);
    m.put("l", -9_000_000_000L);
    m.put("d", 2.5);
    m.put("b", true);
    m.put("n", null);
    m.put("a", List.of(1, "x"));
    m.put("arr", new Object[] {false});
    m.put("o", Map.of());
    assertEquals("{\"s\":\"q\\\"b\\\\s\\n\\u0001é\",\"i\":7,\"l\":-9000000000,\"d\":2.5,\"b\":true,\"n\":null,"
        + "\"a\":[1,\"x\"],\"arr\":[false],\"o\":{}}", Json.write(m));
    assertEquals("\"\\ud83d\\ude00\"", Json.write("😀"));
    assertEquals("[]", Json.write(List.of()));
  }

  @Test
  void refusesWhatJsonCannotHold() {
    assertThrows(Json.JsonException.class, () -> Json.write(Double.NaN));
    assertThrows(Json.JsonException.class, () -> Json.write(Double.POSITIVE_INFINITY));
    assertThrows(Json.JsonException.class, () -> Json.write(Map.of(1, 2)));
    assertThrows(Json.JsonException.class, () -> Json.write(new Object()));
  }

  @Test
  void roundTrips() {
    String[] docs = {
      "{\"offsets\":[{\"group\":\"g\",\"topic\":\"t\",\"partition\":0,\"offset\":9223372036854775807}],"
          + "\"state\":{\"put\":{\"k\":\"AAH/\"},\"delete\":[\"x\"]}}",
      "[null,true,false,\"\",0,-1,0.5,{\"\":[]}]",
      "\"\\u0000\\u001f \\\" \\\\\"",
    };
    for (String doc : docs) {
      assertEquals(doc, Json.write(Json.parse(doc)));
    }
  }

  @Test
  void typedAccess() {
    Map<String, Object> m = Json.object(Json.parse("{\"s\":\"x\",\"i\":5,\"big\":5000000000,\"l\":[1],\"n\":null}"),
        "doc");
    assertEquals("x", Json.string(m, "s"));
    assertEquals(5, Json.int32(m, "i"));
    assertEquals(5_000_000_000L, Json.integer(m, "big"));
    assertEquals(List.of(1L), Json.list(m, "l"));
    assertNull(Json.optString(m, "n"));
    assertNull(Json.optString(m, "missing"));
    assertThrows(Json.JsonException.class, () -> Json.string(m, "i"));
    assertThrows(Json.JsonException.class, () -> Json.string(m, "missing"));
    assertThrows(Json.JsonException.class, () -> Json.int32(m, "big"));
    assertThrows(Json.JsonException.class, () -> Json.integer(m, "s"));
    assertThrows(Json.JsonException.class, () -> Json.list(m, "s"));
    assertThrows(Json.JsonException.class, () -> Json.object(List.of(), "x"));
  }
}
