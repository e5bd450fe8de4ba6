package locallambda.runtime;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.AccessibleObject;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.time.ZonedDateTime;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Calendar;
import java.util.Collection;
import java.util.Date;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.LinkedList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Queue;
import java.util.Set;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A small reflection-based JSON codec modelled on the serializer of the AWS Java runtime
 * (Jackson as configured by aws-lambda-java-serialization), without any dependency.
 *
 * <p>Reading: {@link #parse} turns JSON text into a tree of {@link LinkedHashMap}, {@link ArrayList},
 * {@link String}, {@link Integer}/{@link Long}/{@link BigInteger} (whichever is the smallest that holds an
 * integer), {@link Double}, {@link Boolean} and {@code null}; the parser is lenient in the same ways as
 * AWS's (single quotes, unquoted names, NaN/Infinity, leading zeros, raw control characters).
 * {@link #bind} converts such a tree to a Java type: strings, boxed and primitive numbers, booleans,
 * enums, maps, collections, arrays, {@code byte[]} (base64), {@link Optional}, common
 * {@code java.time} types, records and POJOs (a no-argument constructor plus setters of any
 * visibility or public fields; unknown properties are ignored; a property that has no exact match
 * is matched ignoring case, '-' and '_').</p>
 *
 * <p>The aws-lambda-java-events classes, which AWS reads with dedicated Jackson mix-ins, work
 * through generic rules: the name matching above ({@code "Records"}, {@code "eventSourceARN"},
 * {@code "Sns"}, {@code "detail-type"}), joda-time values read with their static
 * {@code parse(String)} and written with {@code toString()}, {@link java.nio.ByteBuffer} as base64,
 * {@link Date} properties of event classes as seconds, and a table of constructor property names
 * for the S3 event classes, which have no default constructor.</p>
 *
 * <p>Writing: {@link #write} writes strings, numbers, booleans, enums (by name), maps,
 * collections, arrays, {@code byte[]} (base64), {@link Optional}, dates and POJOs (public getters
 * {@code getX()}/{@code isX()} named with the standard bean rule, so {@code getName} gives
 * {@code name} and {@code getURL} gives {@code URL}, plus public fields; properties whose value is
 * null are left out).</p>
 *
 * <p>Errors are thrown as {@link UncheckedIOException}.</p>
 */
final class Json {

    private Json() {
    }

    private static final int MAX_DEPTH = 1000;

    // =====================================================================================
    // Parsing
    // =====================================================================================

    /** Parses UTF-8 JSON; empty (or all-blank) input gives {@code null}. */
    static Object parse(byte[] utf8) {
        return parse(new String(utf8, StandardCharsets.UTF_8));
    }

    /** Parses JSON text; empty (or all-blank) input gives {@code null}. Trailing content is ignored. */
    static Object parse(String text) {
        Parser p = new Parser(text);
        p.skipWs();
        if (p.i >= text.length()) {
            return null;
        }
        if (text.charAt(p.i) == '\uFEFF') {
            p.i++;
        }
        return p.value(0);
    }

    static UncheckedIOException error(String msg) {
        return new UncheckedIOException(new IOException(msg));
    }

    static UncheckedIOException error(String msg, Throwable cause) {
        return new UncheckedIOException(new IOException(msg, cause));
    }

    private static final class Parser {
        final String s;
        int i;

        Parser(String s) {
            this.s = s;
        }

        UncheckedIOException fail(String what) {
            int line = 1;
            int col = 1;
            for (int k = 0; k < i && k < s.length(); k++) {
                if (s.charAt(k) == '\n') {
                    line++;
                    col = 1;
                } else {
                    col++;
                }
            }
            return error(what + " at [line: " + line + ", column: " + col + "]");
        }

        UncheckedIOException unexpected(String expected) {
            if (i >= s.length()) {
                return fail("Unexpected end-of-input: expected " + expected);
            }
            char c = s.charAt(i);
            return fail("Unexpected character ('" + c + "' (code " + (int) c + ")): expected " + expected);
        }

        void skipWs() {
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                    i++;
                } else {
                    break;
                }
            }
        }

        Object value(int depth) {
            if (depth > MAX_DEPTH) {
                throw fail("JSON nesting too deep");
            }
            skipWs();
            if (i >= s.length()) {
                throw unexpected("a value");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{':
                    return object(depth);
                case '[':
                    return array(depth);
                case '"':
                case '\'':
                    return string(c);
                case 't':
                    return literal("true", Boolean.TRUE);
                case 'f':
                    return literal("false", Boolean.FALSE);
                case 'n':
                    return literal("null", null);
                case 'N':
                    return literal("NaN", Double.NaN);
                case 'I':
                    return literal("Infinity", Double.POSITIVE_INFINITY);
                default:
                    if (c == '-' || c == '+' || (c >= '0' && c <= '9') || c == '.') {
                        return number();
                    }
                    throw unexpected("a valid JSON value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')");
            }
        }

        Object literal(String word, Object v) {
            if (s.startsWith(word, i)) {
                int end = i + word.length();
                if (end >= s.length() || !isIdentChar(s.charAt(end))) {
                    i = end;
                    return v;
                }
            }
            int end = i;
            while (end < s.length() && isIdentChar(s.charAt(end))) {
                end++;
            }
            throw fail("Unrecognized token '" + s.substring(i, end)
                    + "': was expecting (JSON String, Number, Array, Object or token 'null', 'true' or 'false')");
        }

        Map<String, Object> object(int depth) {
            i++; // {
            LinkedHashMap<String, Object> m = new LinkedHashMap<>();
            skipWs();
            if (i < s.length() && s.charAt(i) == '}') {
                i++;
                return m;
            }
            while (true) {
                skipWs();
                if (i >= s.length()) {
                    throw unexpected("a field name");
                }
                char c = s.charAt(i);
                String key;
                if (c == '"' || c == '\'') {
                    key = string(c);
                } else if (isIdentChar(c)) {
                    int start = i;
                    while (i < s.length() && isIdentChar(s.charAt(i))) {
                        i++;
                    }
                    key = s.substring(start, i);
                } else {
                    throw unexpected("double-quote to start field name");
                }
                skipWs();
                if (i >= s.length() || s.charAt(i) != ':') {
                    throw unexpected("a colon to separate field name and value");
                }
                i++;
                m.put(key, value(depth + 1));
                skipWs();
                if (i >= s.length()) {
                    throw unexpected("close marker for Object");
                }
                c = s.charAt(i++);
                if (c == '}') {
                    return m;
                }
                if (c != ',') {
                    i--;
                    throw unexpected("comma to separate Object entries");
                }
            }
        }

        List<Object> array(int depth) {
            i++; // [
            ArrayList<Object> list = new ArrayList<>();
            skipWs();
            if (i < s.length() && s.charAt(i) == ']') {
                i++;
                return list;
            }
            while (true) {
                list.add(value(depth + 1));
                skipWs();
                if (i >= s.length()) {
                    throw unexpected("close marker for Array");
                }
                char c = s.charAt(i++);
                if (c == ']') {
                    return list;
                }
                if (c != ',') {
                    i--;
                    throw unexpected("comma to separate Array entries");
                }
            }
        }

        String string(char quote) {
            i++; // opening quote
            int start = i;
            // fast path: no escapes
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c == quote) {
                    String r = s.substring(start, i);
                    i++;
                    return r;
                }
                if (c == '\\') {
                    break;
                }
                i++;
            }
            StringBuilder sb = new StringBuilder(s.length() - start < 64 ? 64 : (i - start) + 16);
            sb.append(s, start, i);
            while (i < s.length()) {
                char c = s.charAt(i++);
                if (c == quote) {
                    return sb.toString();
                }
                if (c != '\\') {
                    sb.append(c);
                    continue;
                }
                if (i >= s.length()) {
                    break;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': sb.append('\n'); break;
                    case 't': sb.append('\t'); break;
                    case 'r': sb.append('\r'); break;
                    case 'b': sb.append('\b'); break;
                    case 'f': sb.append('\f'); break;
                    case 'u':
                        if (i + 4 > s.length()) {
                            throw fail("Unexpected end-of-input in character escape sequence");
                        }
                        try {
                            sb.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        } catch (NumberFormatException nfe) {
                            throw fail("Unexpected character in character escape sequence");
                        }
                        i += 4;
                        break;
                    default:
                        sb.append(e); // covers \" \\ \/ \' and any other escaped character
                }
            }
            throw fail("Unexpected end-of-input: was expecting closing quote for a string value");
        }

        Object number() {
            int start = i;
            if (s.charAt(i) == '-' || s.charAt(i) == '+') {
                i++;
                if (s.startsWith("Infinity", i)) {
                    i += 8;
                    return s.charAt(start) == '-' ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
                }
            }
            boolean integral = true;
            int digits = 0;
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c >= '0' && c <= '9') {
                    digits++;
                    i++;
                } else if (c == '.' || c == 'e' || c == 'E') {
                    integral = false;
                    i++;
                    if ((c == 'e' || c == 'E') && i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                        i++;
                    }
                } else {
                    break;
                }
            }
            if (digits == 0) {
                throw fail("Invalid numeric value '" + s.substring(start, i) + "'");
            }
            String num = s.substring(s.charAt(start) == '+' ? start + 1 : start, i);
            try {
                if (integral) {
                    if (digits <= 9) {
                        return Integer.parseInt(num);
                    }
                    if (digits <= 18) {
                        long l = Long.parseLong(num);
                        if (l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) {
                            return (int) l;
                        }
                        return l;
                    }
                    BigInteger bi = new BigInteger(num);
                    if (bi.bitLength() < 32) {
                        return bi.intValue();
                    }
                    if (bi.bitLength() < 64) {
                        return bi.longValue();
                    }
                    return bi;
                }
                return Double.parseDouble(num);
            } catch (NumberFormatException e) {
                throw fail("Invalid numeric value '" + num + "'");
            }
        }

        static boolean isIdentChar(char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '_' || c == '$' || c > 127;
        }
    }

    // =====================================================================================
    // Binding: tree -> Java type
    // =====================================================================================

    /** Converts a tree from {@link #parse} to {@code type}. */
    static Object bind(Object node, Type type) {
        return bind(node, type, 0);
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Object bind(Object node, Type type, int depth) {
        if (depth > MAX_DEPTH) {
            throw error("JSON nesting too deep");
        }
        if (type instanceof WildcardType) {
            Type[] ub = ((WildcardType) type).getUpperBounds();
            type = ub.length > 0 ? ub[0] : Object.class;
        }
        if (type instanceof TypeVariable) {
            Type[] b = ((TypeVariable<?>) type).getBounds();
            type = b.length > 0 ? b[0] : Object.class;
        }
        Class<?> raw = rawClass(type);

        if (raw == Object.class || raw == java.io.Serializable.class) {
            return node;
        }
        if (node instanceof Map && raw.isInstance(node) && isNaturalMap(type)) {
            return node; // the parsed tree already is a LinkedHashMap<String, Object>
        }
        if (raw.isPrimitive()) {
            if (node == null || (node instanceof String && ((String) node).isEmpty() && raw != char.class)) {
                return primitiveDefault(raw);
            }
            return scalar(unwrapSingle(node, raw), box(raw));
        }
        if (node == null) {
            if (raw == Optional.class) {
                return Optional.empty();
            }
            if (raw == OptionalInt.class) {
                return OptionalInt.empty();
            }
            if (raw == OptionalLong.class) {
                return OptionalLong.empty();
            }
            if (raw == OptionalDouble.class) {
                return OptionalDouble.empty();
            }
            return null;
        }
        if (raw == String.class || raw == CharSequence.class) {
            Object n = unwrapSingle(node, raw);
            if (n instanceof Map || n instanceof List) {
                throw cannot(raw, n);
            }
            return n == null ? null : n instanceof Double ? doubleText((Double) n) : n.toString();
        }
        if (raw == Optional.class) {
            return Optional.ofNullable(bind(node, typeArg(type, Optional.class, 0), depth + 1));
        }
        if (raw == OptionalInt.class) {
            return OptionalInt.of((Integer) scalar(node, Integer.class));
        }
        if (raw == OptionalLong.class) {
            return OptionalLong.of((Long) scalar(node, Long.class));
        }
        if (raw == OptionalDouble.class) {
            return OptionalDouble.of((Double) scalar(node, Double.class));
        }
        if (raw == byte[].class) {
            if (node instanceof String) {
                try {
                    return Base64.getMimeDecoder().decode((String) node);
                } catch (IllegalArgumentException e) {
                    throw error("Cannot deserialize value of type `byte[]` from String: " + e.getMessage());
                }
            }
        }
        if (raw == java.nio.ByteBuffer.class && node instanceof String) {
            try {
                return java.nio.ByteBuffer.wrap(Base64.getMimeDecoder().decode((String) node));
            } catch (IllegalArgumentException e) {
                throw error("Cannot deserialize value of type `java.nio.ByteBuffer` from String: " + e.getMessage());
            }
        }
        if (raw.isArray()) {
            List<Object> list = asList(node, raw);
            if (list == null) {
                return null;
            }
            Type ct = type instanceof GenericArrayType ? ((GenericArrayType) type).getGenericComponentType()
                    : raw.getComponentType();
            Object arr = Array.newInstance(raw.getComponentType(), list.size());
            for (int k = 0; k < list.size(); k++) {
                Array.set(arr, k, bind(list.get(k), ct, depth + 1));
            }
            return arr;
        }
        if (Collection.class.isAssignableFrom(raw)) {
            List<Object> list = asList(node, raw);
            if (list == null) {
                return null;
            }
            Type et = typeArg(type, Collection.class, 0);
            Collection<Object> c;
            if (EnumSet.class.isAssignableFrom(raw)) {
                c = (Collection) EnumSet.noneOf((Class) rawClass(et));
            } else {
                c = (Collection<Object>) newCollection(raw);
            }
            boolean identity = rawClass(et) == Object.class;
            for (Object o : list) {
                c.add(identity ? o : bind(o, et, depth + 1));
            }
            return c;
        }
        if (Map.class.isAssignableFrom(raw)) {
            Object n = unwrapSingle(node, raw);
            if (n instanceof String && ((String) n).isEmpty()) {
                return null;
            }
            if (!(n instanceof Map)) {
                throw cannot(raw, n);
            }
            Type kt = typeArg(type, Map.class, 0);
            Type vt = typeArg(type, Map.class, 1);
            Map<Object, Object> m;
            if (EnumMap.class.isAssignableFrom(raw)) {
                m = new EnumMap(rawClass(kt));
            } else {
                m = (Map<Object, Object>) newMap(raw);
            }
            Class<?> kraw = rawClass(kt);
            for (Map.Entry<String, Object> e : ((Map<String, Object>) n).entrySet()) {
                Object k = kraw == String.class || kraw == Object.class || kraw == CharSequence.class
                        ? e.getKey() : bindKey(e.getKey(), kraw);
                m.put(k, bind(e.getValue(), vt, depth + 1));
            }
            return m;
        }
        if (raw.isEnum()) {
            Object n = unwrapSingle(node, raw);
            if (n instanceof String) {
                String name = (String) n;
                if (name.isEmpty()) {
                    return null;
                }
                for (Object c : raw.getEnumConstants()) {
                    if (((Enum<?>) c).name().equals(name)) {
                        return c;
                    }
                }
                return null; // unknown enum values read as null, as on AWS
            }
            if (n instanceof Integer) {
                Object[] cs = raw.getEnumConstants();
                int idx = (Integer) n;
                if (idx >= 0 && idx < cs.length) {
                    return cs[idx];
                }
                return null;
            }
            throw cannot(raw, n);
        }
        if (isScalarClass(raw)) {
            Object n = unwrapSingle(node, raw);
            if (n instanceof String && ((String) n).isEmpty() && raw != Character.class) {
                return null;
            }
            return scalar(n, raw);
        }
        Object temporal = bindTemporal(unwrapSingle(node, raw), raw);
        if (temporal != NOT_TEMPORAL) {
            return temporal;
        }
        if (raw == UUID.class) {
            return UUID.fromString(unwrapSingle(node, raw).toString());
        }
        if (raw == java.net.URI.class) {
            return java.net.URI.create(unwrapSingle(node, raw).toString());
        }
        // POJO / record
        Object n = unwrapSingle(node, raw);
        if (n instanceof String && ((String) n).isEmpty()) {
            return null;
        }
        if (n instanceof List && ((List<?>) n).isEmpty()) {
            return null;
        }
        if (!(n instanceof Map)) {
            if (n instanceof String) {
                Object fromString = fromStringFactory(raw, (String) n);
                if (fromString != null) {
                    return fromString;
                }
            }
            throw cannot(raw, n);
        }
        return bindBean((Map<String, Object>) n, type, raw, depth);
    }

    private static boolean isNaturalMap(Type type) {
        if (!(type instanceof ParameterizedType)) {
            return true;
        }
        Type[] a = ((ParameterizedType) type).getActualTypeArguments();
        return (rawClass(a[0]) == String.class || rawClass(a[0]) == Object.class) && rawClass(a[1]) == Object.class;
    }

    private static Object unwrapSingle(Object node, Class<?> target) {
        // UNWRAP_SINGLE_VALUE_ARRAYS: ["x"] is accepted where a single value is expected
        if (node instanceof List && ((List<?>) node).size() == 1) {
            return ((List<?>) node).get(0);
        }
        return node;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> asList(Object node, Class<?> raw) {
        if (node instanceof List) {
            return (List<Object>) node;
        }
        if (node instanceof String && ((String) node).isEmpty()) {
            return null;
        }
        // ACCEPT_SINGLE_VALUE_AS_ARRAY
        List<Object> one = new ArrayList<>(1);
        one.add(node);
        return one;
    }

    private static UncheckedIOException cannot(Class<?> raw, Object node) {
        String what;
        if (node instanceof Map) {
            what = "from Object value (token `JsonToken.START_OBJECT`)";
        } else if (node instanceof List) {
            what = "from Array value (token `JsonToken.START_ARRAY`)";
        } else if (node instanceof String) {
            what = "from String \"" + node + "\"";
        } else if (node instanceof Boolean) {
            what = "from Boolean value";
        } else if (node == null) {
            what = "from null";
        } else {
            what = "from Number " + node;
        }
        return error("Cannot deserialize value of type `" + raw.getTypeName() + "` " + what);
    }

    private static boolean isScalarClass(Class<?> c) {
        return c == Integer.class || c == Long.class || c == Double.class || c == Float.class || c == Short.class
                || c == Byte.class || c == Boolean.class || c == Character.class || c == BigDecimal.class
                || c == BigInteger.class || c == Number.class;
    }

    private static Object primitiveDefault(Class<?> c) {
        if (c == int.class) {
            return 0;
        }
        if (c == long.class) {
            return 0L;
        }
        if (c == double.class) {
            return 0.0d;
        }
        if (c == float.class) {
            return 0.0f;
        }
        if (c == boolean.class) {
            return Boolean.FALSE;
        }
        if (c == short.class) {
            return (short) 0;
        }
        if (c == byte.class) {
            return (byte) 0;
        }
        if (c == char.class) {
            return '\0';
        }
        return null;
    }

    private static Class<?> box(Class<?> c) {
        if (c == int.class) {
            return Integer.class;
        }
        if (c == long.class) {
            return Long.class;
        }
        if (c == double.class) {
            return Double.class;
        }
        if (c == float.class) {
            return Float.class;
        }
        if (c == boolean.class) {
            return Boolean.class;
        }
        if (c == short.class) {
            return Short.class;
        }
        if (c == byte.class) {
            return Byte.class;
        }
        if (c == char.class) {
            return Character.class;
        }
        return c;
    }

    private static Object scalar(Object n, Class<?> c) {
        try {
            if (c == Boolean.class) {
                if (n instanceof Boolean) {
                    return n;
                }
                if (n instanceof String) {
                    String t = ((String) n).trim();
                    if ("true".equals(t) || "True".equals(t) || "TRUE".equals(t)) {
                        return Boolean.TRUE;
                    }
                    if ("false".equals(t) || "False".equals(t) || "FALSE".equals(t)) {
                        return Boolean.FALSE;
                    }
                    if ("null".equals(t)) {
                        return null;
                    }
                }
                if (n instanceof Integer || n instanceof Long || n instanceof BigInteger) {
                    return ((Number) n).longValue() != 0;
                }
                throw cannot(c, n);
            }
            if (c == Character.class) {
                if (n instanceof String && ((String) n).length() == 1) {
                    return ((String) n).charAt(0);
                }
                if (n instanceof Integer) {
                    return (char) ((Integer) n).intValue();
                }
                throw cannot(c, n);
            }
            Number num;
            if (n instanceof Number) {
                num = (Number) n;
            } else if (n instanceof String) {
                String t = ((String) n).trim();
                if (t.isEmpty() || "null".equals(t)) {
                    return null;
                }
                Object parsed = new Parser(t).number();
                num = (Number) parsed;
            } else if (n instanceof Boolean && (c == Integer.class || c == Long.class || c == Short.class || c == Byte.class)) {
                num = ((Boolean) n) ? 1 : 0;
            } else {
                throw cannot(c, n);
            }
            if (c == Integer.class) {
                checkIntegral(num, c);
                long l = num.longValue();
                if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE || num instanceof BigInteger && ((BigInteger) num).bitLength() >= 64) {
                    throw error("Numeric value (" + num + ") out of range of int (" + Integer.MIN_VALUE + " - " + Integer.MAX_VALUE + ")");
                }
                return (int) l;
            }
            if (c == Long.class) {
                checkIntegral(num, c);
                if (num instanceof BigInteger && ((BigInteger) num).bitLength() >= 64) {
                    throw error("Numeric value (" + num + ") out of range of long");
                }
                return num.longValue();
            }
            if (c == Double.class) {
                return num.doubleValue();
            }
            if (c == Float.class) {
                return num.floatValue();
            }
            if (c == Short.class) {
                checkIntegral(num, c);
                long l = num.longValue();
                if (l < Short.MIN_VALUE || l > Short.MAX_VALUE) {
                    throw error("Numeric value (" + num + ") out of range of Java short");
                }
                return (short) l;
            }
            if (c == Byte.class) {
                checkIntegral(num, c);
                long l = num.longValue();
                if (l < Byte.MIN_VALUE || l > 255) {
                    throw error("Numeric value (" + num + ") out of range of Java byte");
                }
                return (byte) l;
            }
            if (c == BigDecimal.class) {
                if (num instanceof Double) {
                    return new BigDecimal(n instanceof String ? ((String) n).trim() : Double.toString((Double) num));
                }
                return num instanceof BigInteger ? new BigDecimal((BigInteger) num) : BigDecimal.valueOf(num.longValue());
            }
            if (c == BigInteger.class) {
                if (num instanceof BigInteger) {
                    return num;
                }
                if (num instanceof Double) {
                    return BigDecimal.valueOf(num.doubleValue()).toBigInteger();
                }
                return BigInteger.valueOf(num.longValue());
            }
            return num; // Number
        } catch (NumberFormatException e) {
            throw cannot(c, n);
        }
    }

    private static void checkIntegral(Number num, Class<?> c) {
        // Jackson accepts floats for integral targets (ACCEPT_FLOAT_AS_INT is on by default): truncates
        if (num instanceof Double && (((Double) num).isNaN() || ((Double) num).isInfinite())) {
            throw error("Cannot coerce Floating-point value (" + num + ") into `" + c.getName() + "`");
        }
    }

    private static Object bindKey(String key, Class<?> kraw) {
        if (kraw.isEnum()) {
            for (Object c : kraw.getEnumConstants()) {
                if (((Enum<?>) c).name().equals(key)) {
                    return c;
                }
            }
            return null;
        }
        if (isScalarClass(kraw) || kraw.isPrimitive()) {
            return scalar(key, box(kraw));
        }
        if (kraw == UUID.class) {
            return UUID.fromString(key);
        }
        Object o = fromStringFactory(kraw, key);
        if (o != null) {
            return o;
        }
        throw error("Cannot find a (Map) Key deserializer for type `" + kraw.getName() + "`");
    }

    private static Object fromStringFactory(Class<?> raw, String s) {
        try {
            Constructor<?> c = raw.getConstructor(String.class);
            return c.newInstance(s);
        } catch (ReflectiveOperationException | RuntimeException e) {
            // fall through
        }
        for (String name : new String[] {"valueOf", "fromString", "parse"}) {
            try {
                Method m = raw.getMethod(name, String.class);
                if (Modifier.isStatic(m.getModifiers()) && raw.isAssignableFrom(m.getReturnType())) {
                    return m.invoke(null, s);
                }
            } catch (ReflectiveOperationException | RuntimeException e) {
                // fall through
            }
        }
        return null;
    }

    private static Collection<?> newCollection(Class<?> raw) {
        if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
            if (SortedSet.class.isAssignableFrom(raw)) {
                return new TreeSet<>();
            }
            if (Set.class.isAssignableFrom(raw)) {
                return new LinkedHashSet<>();
            }
            if (Queue.class.isAssignableFrom(raw) && !List.class.isAssignableFrom(raw)) {
                return new ArrayDeque<>();
            }
            if (raw.isAssignableFrom(ArrayList.class)) {
                return new ArrayList<>();
            }
            if (raw.isAssignableFrom(LinkedList.class)) {
                return new LinkedList<>();
            }
            throw error("Cannot construct instance of `" + raw.getName() + "` (abstract collection type)");
        }
        if (raw == ArrayList.class) {
            return new ArrayList<>();
        }
        if (raw == HashSet.class) {
            return new HashSet<>();
        }
        return (Collection<?>) instantiate(raw);
    }

    private static Map<?, ?> newMap(Class<?> raw) {
        if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
            if (SortedMap.class.isAssignableFrom(raw)) {
                return new TreeMap<>();
            }
            if (raw.isAssignableFrom(LinkedHashMap.class)) {
                return new LinkedHashMap<>();
            }
            if (raw.isAssignableFrom(ConcurrentHashMap.class)) {
                return new ConcurrentHashMap<>();
            }
            throw error("Cannot construct instance of `" + raw.getName() + "` (abstract map type)");
        }
        if (raw == LinkedHashMap.class) {
            return new LinkedHashMap<>();
        }
        if (raw == HashMap.class) {
            return new HashMap<>();
        }
        return (Map<?, ?>) instantiate(raw);
    }

    private static Object instantiate(Class<?> raw) {
        try {
            Constructor<?> c = raw.getDeclaredConstructor();
            if (!c.canAccess(null)) {
                c.setAccessible(true);
            }
            return c.newInstance();
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw error("Cannot construct instance of `" + raw.getName() + "` (no Creators, like default constructor, exist)", e);
        }
    }

    private static final Object NOT_TEMPORAL = new Object();

    private static Object bindTemporal(Object n, Class<?> raw) {
        if (raw != Date.class && raw != Instant.class && raw != LocalDate.class && raw != LocalDateTime.class
                && raw != LocalTime.class && raw != OffsetDateTime.class && raw != ZonedDateTime.class
                && raw != Duration.class && raw != Calendar.class && raw != java.sql.Timestamp.class) {
            return NOT_TEMPORAL;
        }
        if (n instanceof String && ((String) n).isEmpty()) {
            return null;
        }
        try {
            if (raw == Date.class || raw == Calendar.class || raw == java.sql.Timestamp.class) {
                long millis;
                if (n instanceof Number) {
                    millis = ((Number) n).longValue();
                } else if (n instanceof String) {
                    millis = parseInstant((String) n).toEpochMilli();
                } else {
                    throw cannot(raw, n);
                }
                if (raw == Calendar.class) {
                    Calendar cal = Calendar.getInstance(java.util.TimeZone.getTimeZone("UTC"));
                    cal.setTimeInMillis(millis);
                    return cal;
                }
                return raw == Date.class ? new Date(millis) : new java.sql.Timestamp(millis);
            }
            if (raw == Instant.class || raw == OffsetDateTime.class || raw == ZonedDateTime.class) {
                Instant inst;
                if (n instanceof Number) {
                    BigDecimal secs = n instanceof Double ? BigDecimal.valueOf((Double) n)
                            : new BigDecimal(n.toString());
                    long s = secs.longValue();
                    int nanos = secs.subtract(BigDecimal.valueOf(s)).movePointRight(9).intValue();
                    inst = Instant.ofEpochSecond(s, nanos);
                } else if (n instanceof String) {
                    String t = (String) n;
                    if (raw == OffsetDateTime.class) {
                        return OffsetDateTime.parse(t);
                    }
                    if (raw == ZonedDateTime.class) {
                        return ZonedDateTime.parse(t);
                    }
                    inst = parseInstant(t);
                } else {
                    throw cannot(raw, n);
                }
                if (raw == Instant.class) {
                    return inst;
                }
                if (raw == OffsetDateTime.class) {
                    return OffsetDateTime.ofInstant(inst, java.time.ZoneOffset.UTC);
                }
                return ZonedDateTime.ofInstant(inst, java.time.ZoneOffset.UTC);
            }
            if (raw == Duration.class) {
                if (n instanceof Number) {
                    BigDecimal secs = new BigDecimal(n.toString());
                    long s = secs.longValue();
                    return Duration.ofSeconds(s, secs.subtract(BigDecimal.valueOf(s)).movePointRight(9).longValue());
                }
                return Duration.parse(n.toString());
            }
            if (n instanceof List) {
                List<?> a = (List<?>) n;
                int[] v = new int[a.size()];
                for (int k = 0; k < v.length; k++) {
                    v[k] = ((Number) a.get(k)).intValue();
                }
                if (raw == LocalDate.class) {
                    return LocalDate.of(v[0], v[1], v[2]);
                }
                if (raw == LocalTime.class) {
                    return LocalTime.of(v[0], v[1], v.length > 2 ? v[2] : 0, v.length > 3 ? v[3] : 0);
                }
                return LocalDateTime.of(v[0], v[1], v[2], v.length > 3 ? v[3] : 0, v.length > 4 ? v[4] : 0,
                        v.length > 5 ? v[5] : 0, v.length > 6 ? v[6] : 0);
            }
            String t = n.toString();
            if (raw == LocalDate.class) {
                return LocalDate.parse(t.length() > 10 && t.charAt(10) == 'T' ? t.substring(0, 10) : t);
            }
            if (raw == LocalTime.class) {
                return LocalTime.parse(t);
            }
            if (t.endsWith("Z")) {
                return LocalDateTime.ofInstant(Instant.parse(t), java.time.ZoneOffset.UTC);
            }
            return LocalDateTime.parse(t);
        } catch (java.time.DateTimeException | IndexOutOfBoundsException | ClassCastException | NumberFormatException e) {
            throw error("Cannot deserialize value of type `" + raw.getName() + "` from " + n + ": " + e.getMessage());
        }
    }

    private static Instant parseInstant(String t) {
        try {
            return Instant.parse(t);
        } catch (java.time.DateTimeException e) {
            try {
                return OffsetDateTime.parse(t).toInstant();
            } catch (java.time.DateTimeException e2) {
                return LocalDate.parse(t).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
            }
        }
    }

    // ---------------------------------------------------------------- beans (reading)

    private static final class Setter {
        final String name;
        final Type type;
        final Class<?> declaring;
        final Method method;
        final Field field;

        Setter(String name, Type type, Class<?> declaring, Method method, Field field) {
            this.name = name;
            this.type = type;
            this.declaring = declaring;
            this.method = method;
            this.field = field;
        }

        void set(Object target, Object value) {
            try {
                if (method != null) {
                    method.invoke(target, value);
                } else {
                    field.set(target, value);
                }
            } catch (java.lang.reflect.InvocationTargetException e) {
                Throwable c = e.getCause() == null ? e : e.getCause();
                throw error("Problem deserializing property '" + name + "' (" + c + ")", c);
            } catch (IllegalAccessException | IllegalArgumentException e) {
                throw error("Problem deserializing property '" + name + "': " + e.getMessage(), e);
            }
        }
    }

    private static final class ReadInfo {
        final Constructor<?> ctor;          // no-arg constructor, or the property-based creator
        final String[] creatorNames;        // non-null when ctor takes the properties (records, S3 events)
        final Type[] creatorTypes;
        final Map<String, Setter> setters;
        final Map<String, Setter> settersNormalized;
        final boolean eventClass;           // an aws-lambda-java-events class: dates are in seconds
        final String problem;               // why the type cannot be instantiated, or null

        ReadInfo(Class<?> raw, Constructor<?> ctor, String[] creatorNames, Type[] creatorTypes,
                 Map<String, Setter> setters, String problem) {
            this.ctor = ctor;
            this.creatorNames = creatorNames;
            this.creatorTypes = creatorTypes;
            this.setters = setters;
            this.settersNormalized = new HashMap<>();
            for (Setter s : setters.values()) {
                settersNormalized.putIfAbsent(normalizedName(s.name), s);
            }
            this.eventClass = raw.getName().startsWith(EVENTS_PACKAGE);
            this.problem = problem;
        }

        static ReadInfo broken(Class<?> raw, String problem) {
            return new ReadInfo(raw, null, null, null, Map.of(), problem);
        }
    }

    private static final String EVENTS_PACKAGE = "com.amazonaws.services.lambda.runtime.events.";

    /**
     * Property names of the constructors of the S3 event classes, which have no default constructor
     * (AWS's serializer has a dedicated reader for them).
     */
    private static final Map<String, String[]> S3_CREATORS = Map.of(
            "S3EventNotification", new String[] {"Records"},
            "S3Event", new String[] {"Records"},
            "S3EventNotification$S3EventNotificationRecord", new String[] {"awsRegion", "eventName", "eventSource",
                "eventTime", "eventVersion", "requestParameters", "responseElements", "s3", "userIdentity"},
            "S3EventNotification$S3Entity", new String[] {"configurationId", "bucket", "object", "s3SchemaVersion"},
            "S3EventNotification$S3BucketEntity", new String[] {"name", "ownerIdentity", "arn"},
            "S3EventNotification$S3ObjectEntity", new String[] {"key", "size", "eTag", "versionId", "sequencer"},
            "S3EventNotification$UserIdentityEntity", new String[] {"principalId"},
            "S3EventNotification$RequestParametersEntity", new String[] {"sourceIPAddress"},
            "S3EventNotification$ResponseElementsEntity", new String[] {"x-amz-id-2", "x-amz-request-id"});

    private static String[] s3CreatorNames(Class<?> raw) {
        String n = raw.getName();
        if (!(n.startsWith(EVENTS_PACKAGE) || n.startsWith("com.amazonaws.services.s3.event."))) {
            return null;
        }
        return S3_CREATORS.get(n.substring(n.lastIndexOf('.') + 1));
    }

    /** Lower case, without '-' and '_': lets "detail-type" find detailType and "Records" find records. */
    static String normalizedName(String name) {
        StringBuilder sb = new StringBuilder(name.length());
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c != '-' && c != '_') {
                sb.append(Character.toLowerCase(c));
            }
        }
        return sb.toString();
    }

    private static final Map<Class<?>, ReadInfo> READ_INFO = new ConcurrentHashMap<>();

    private static ReadInfo readInfo(Class<?> raw) {
        ReadInfo ri = READ_INFO.get(raw);
        if (ri == null) {
            ri = buildReadInfo(raw);
            READ_INFO.put(raw, ri);
        }
        return ri;
    }

    private static ReadInfo buildReadInfo(Class<?> raw) {
        String typeName = raw.getName();
        if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers())) {
            return ReadInfo.broken(raw, "Cannot construct instance of `" + typeName
                    + "` (no Creators, like default constructor, exist): abstract types either need to be mapped to concrete types, have custom deserializer, or contain additional type information");
        }
        if (raw.isRecord()) {
            RecordComponent[] rc = raw.getRecordComponents();
            Class<?>[] types = new Class<?>[rc.length];
            String[] names = new String[rc.length];
            Type[] gtypes = new Type[rc.length];
            for (int k = 0; k < rc.length; k++) {
                types[k] = rc[k].getType();
                names[k] = rc[k].getName();
                gtypes[k] = rc[k].getGenericType();
            }
            try {
                Constructor<?> c = raw.getDeclaredConstructor(types);
                trySetAccessible(c);
                return new ReadInfo(raw, c, names, gtypes, Map.of(), null);
            } catch (NoSuchMethodException e) {
                return ReadInfo.broken(raw, "Cannot construct instance of `" + typeName + "` (no canonical constructor)");
            }
        }
        String[] s3 = s3CreatorNames(raw);
        if (s3 != null) {
            for (Constructor<?> c : raw.getConstructors()) {
                if (c.getParameterCount() == s3.length) {
                    return new ReadInfo(raw, c, s3, c.getGenericParameterTypes(), Map.of(), null);
                }
            }
        }
        if (raw.getEnclosingClass() != null && !Modifier.isStatic(raw.getModifiers())) {
            return ReadInfo.broken(raw, "Cannot construct instance of `" + typeName
                    + "`: non-static inner classes like this can only by instantiated using default, no-argument constructor");
        }
        Constructor<?> ctor = null;
        try {
            ctor = raw.getDeclaredConstructor();
            trySetAccessible(ctor);
        } catch (NoSuchMethodException e) {
            // reported below
        }
        LinkedHashMap<String, Setter> setters = new LinkedHashMap<>();
        // public fields (setters override them below)
        for (Field f : raw.getFields()) {
            int mod = f.getModifiers();
            if (Modifier.isStatic(mod) || Modifier.isTransient(mod)) {
                continue;
            }
            if (Modifier.isFinal(mod) && !trySetAccessible(f)) {
                continue;
            }
            setters.put(f.getName(), new Setter(f.getName(), f.getGenericType(), f.getDeclaringClass(), null, f));
        }
        // setters of any visibility, most-derived class first
        HashSet<String> seen = new HashSet<>();
        for (Class<?> c = raw; c != null && c != Object.class; c = c.getSuperclass()) {
            for (Method m : c.getDeclaredMethods()) {
                if (m.isSynthetic() || m.isBridge() || Modifier.isStatic(m.getModifiers()) || m.getParameterCount() != 1) {
                    continue;
                }
                String n = m.getName();
                if (n.length() <= 3 || !n.startsWith("set")) {
                    continue;
                }
                String prop = beanName(n.substring(3));
                if (!seen.add(prop)) {
                    continue;
                }
                if (!Modifier.isPublic(m.getModifiers()) || !Modifier.isPublic(c.getModifiers())) {
                    if (!trySetAccessible(m)) {
                        continue;
                    }
                }
                setters.put(prop, new Setter(prop, m.getGenericParameterTypes()[0], c, m, null));
            }
        }
        String problem = ctor == null ? "Cannot construct instance of `" + typeName
                + "` (no Creators, like default constructor, exist): cannot deserialize from Object value (no delegate- or property-based Creator)"
                : null;
        return new ReadInfo(raw, ctor, null, null, setters, problem);
    }

    private static boolean trySetAccessible(AccessibleObject o) {
        try {
            o.setAccessible(true);
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static Object bindBean(Map<String, Object> obj, Type type, Class<?> raw, int depth) {
        ReadInfo ri = readInfo(raw);
        if (ri.problem != null) {
            throw error(ri.problem);
        }
        try {
            if (ri.creatorNames != null) {
                Object[] args = new Object[ri.creatorNames.length];
                for (int k = 0; k < args.length; k++) {
                    String name = ri.creatorNames[k];
                    Object v = obj.get(name);
                    if (v == null && !obj.containsKey(name)) {
                        String norm = normalizedName(name);
                        for (Map.Entry<String, Object> e : obj.entrySet()) {
                            if (normalizedName(e.getKey()).equals(norm)) {
                                v = e.getValue();
                                break;
                            }
                        }
                    }
                    args[k] = bindProperty(v, resolve(ri.creatorTypes[k], raw, type), ri.eventClass, depth);
                }
                return ri.ctor.newInstance(args);
            }
            Object bean = ri.ctor.newInstance();
            for (Map.Entry<String, Object> e : obj.entrySet()) {
                Setter s = ri.setters.get(e.getKey());
                if (s == null) {
                    s = ri.settersNormalized.get(normalizedName(e.getKey()));
                    if (s == null) {
                        continue; // unknown properties are ignored
                    }
                }
                s.set(bean, bindProperty(e.getValue(), resolve(s.type, s.declaring, type), ri.eventClass, depth));
            }
            return bean;
        } catch (java.lang.reflect.InvocationTargetException e) {
            Throwable c = e.getCause() == null ? e : e.getCause();
            throw error("Cannot construct instance of `" + raw.getName() + "`, problem: " + c.getMessage(), c);
        } catch (InstantiationException | IllegalAccessException e) {
            throw error("Cannot construct instance of `" + raw.getName() + "`: " + e, e);
        }
    }

    private static Object bindProperty(Object v, Type t, boolean eventClass, int depth) {
        if (eventClass && v instanceof Number && t == Date.class) {
            // the event classes carry dates as (fractional) seconds since the epoch
            double secs = ((Number) v).doubleValue();
            return secs == 0.0 ? null : new Date((long) (secs * 1000.0));
        }
        return bind(v, t, depth + 1);
    }

    /** Resolves type variables of {@code declaring} that occur in {@code t}, as seen from {@code context}. */
    private static Type resolve(Type t, Class<?> declaring, Type context) {
        if (t instanceof Class) {
            return t;
        }
        if (!containsTypeVariable(t)) {
            return t;
        }
        Map<TypeVariable<?>, Type> env = new HashMap<>();
        Type[] args = Types.typeArguments(context, declaring);
        if (args != null) {
            TypeVariable<?>[] vars = declaring.getTypeParameters();
            for (int k = 0; k < vars.length && k < args.length; k++) {
                env.put(vars[k], args[k]);
            }
        }
        return Types.substitute(t, env);
    }

    private static boolean containsTypeVariable(Type t) {
        if (t instanceof TypeVariable) {
            return true;
        }
        if (t instanceof ParameterizedType) {
            for (Type a : ((ParameterizedType) t).getActualTypeArguments()) {
                if (containsTypeVariable(a)) {
                    return true;
                }
            }
            return false;
        }
        if (t instanceof GenericArrayType) {
            return containsTypeVariable(((GenericArrayType) t).getGenericComponentType());
        }
        if (t instanceof WildcardType) {
            for (Type b : ((WildcardType) t).getUpperBounds()) {
                if (containsTypeVariable(b)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The raw class of a type (a type variable or wildcard gives its first upper bound). */
    static Class<?> rawClass(Type t) {
        if (t instanceof Class) {
            return (Class<?>) t;
        }
        if (t instanceof ParameterizedType) {
            return rawClass(((ParameterizedType) t).getRawType());
        }
        if (t instanceof GenericArrayType) {
            return Array.newInstance(rawClass(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
        }
        if (t instanceof TypeVariable) {
            Type[] b = ((TypeVariable<?>) t).getBounds();
            return b.length == 0 ? Object.class : rawClass(b[0]);
        }
        if (t instanceof WildcardType) {
            Type[] b = ((WildcardType) t).getUpperBounds();
            return b.length == 0 ? Object.class : rawClass(b[0]);
        }
        return Object.class;
    }

    /** The {@code index}-th type argument of {@code target} as implemented by {@code type}; Object if unknown. */
    private static Type typeArg(Type type, Class<?> target, int index) {
        if (type instanceof ParameterizedType && rawClass(type) == target) {
            return ((ParameterizedType) type).getActualTypeArguments()[index];
        }
        Type[] args = Types.typeArguments(type, target);
        if (args == null || args.length <= index) {
            return Object.class;
        }
        return args[index];
    }

    // =====================================================================================
    // Writing: Java object -> JSON text
    // =====================================================================================

    /** Serializes {@code value} as JSON. */
    static String write(Object value) {
        StringBuilder sb = new StringBuilder(128);
        new Writer(sb).value(value, 0);
        return sb.toString();
    }

    /** Appends {@code s} as a JSON string literal. */
    static void writeString(StringBuilder sb, String s) {
        sb.append('"');
        int n = s.length();
        int start = 0;
        for (int k = 0; k < n; k++) {
            char c = s.charAt(k);
            if (c >= 0x20 && c != '"' && c != '\\') {
                continue;
            }
            sb.append(s, start, k);
            start = k + 1;
            switch (c) {
                case '"': sb.append("\\\""); break;
                case '\\': sb.append("\\\\"); break;
                case '\n': sb.append("\\n"); break;
                case '\r': sb.append("\\r"); break;
                case '\t': sb.append("\\t"); break;
                case '\b': sb.append("\\b"); break;
                case '\f': sb.append("\\f"); break;
                default:
                    sb.append("\\u00");
                    sb.append(Character.forDigit((c >> 4) & 0xF, 16)).append(Character.forDigit(c & 0xF, 16));
            }
        }
        sb.append(s, start, n);
        sb.append('"');
    }

    private static String doubleText(Double d) {
        return d.toString();
    }

    private static final class Getter {
        final String name;
        final Method method;
        final Field field;

        Getter(String name, Method method, Field field) {
            this.name = name;
            this.method = method;
            this.field = field;
        }

        Object get(Object target) {
            try {
                return method != null ? method.invoke(target) : field.get(target);
            } catch (java.lang.reflect.InvocationTargetException e) {
                Throwable c = e.getCause() == null ? e : e.getCause();
                throw error("Problem serializing property '" + name + "' (" + c + ")", c);
            } catch (IllegalAccessException e) {
                throw error("Problem serializing property '" + name + "': " + e.getMessage(), e);
            }
        }
    }

    private static final Map<Class<?>, Getter[]> WRITE_INFO = new ConcurrentHashMap<>();

    private static Getter[] writeInfo(Class<?> c) {
        Getter[] g = WRITE_INFO.get(c);
        if (g == null) {
            g = buildWriteInfo(c);
            WRITE_INFO.put(c, g);
        }
        return g;
    }

    private static Getter[] buildWriteInfo(Class<?> raw) {
        if (raw.isRecord()) {
            RecordComponent[] rc = raw.getRecordComponents();
            List<Getter> out = new ArrayList<>();
            for (RecordComponent r : rc) {
                Method m = r.getAccessor();
                if (!trySetAccessible(m)) {
                    continue;
                }
                out.add(new Getter(r.getName(), m, null));
            }
            return out.toArray(new Getter[0]);
        }
        // Property order as in Jackson: positions come from declared fields (superclass first),
        // then properties that only have a getter, in method order (most-derived class first).
        List<Class<?>> chain = new ArrayList<>();
        for (Class<?> c = raw; c != null && c != Object.class; c = c.getSuperclass()) {
            chain.add(0, c);
        }
        LinkedHashMap<String, Getter> props = new LinkedHashMap<>();
        for (Class<?> c : chain) {
            for (Field f : c.getDeclaredFields()) {
                if (Modifier.isStatic(f.getModifiers()) || f.isSynthetic()) {
                    continue;
                }
                props.putIfAbsent(f.getName(), null);
            }
        }
        // public fields
        for (Field f : raw.getFields()) {
            int mod = f.getModifiers();
            if (Modifier.isStatic(mod) || Modifier.isTransient(mod)) {
                continue;
            }
            if (!trySetAccessible(f)) {
                continue;
            }
            props.put(f.getName(), new Getter(f.getName(), null, f));
        }
        // public getters (override fields of the same name)
        HashSet<String> seenSig = new HashSet<>();
        for (int k = chain.size() - 1; k >= -1; k--) {
            Method[] methods = k >= 0 ? chain.get(k).getDeclaredMethods() : raw.getMethods();
            for (Method m : methods) {
                int mod = m.getModifiers();
                if (!Modifier.isPublic(mod) || Modifier.isStatic(mod) || m.isBridge() || m.isSynthetic()
                        || m.getParameterCount() != 0 || m.getReturnType() == void.class) {
                    continue;
                }
                String n = m.getName();
                String prop;
                if (n.startsWith("get") && n.length() > 3) {
                    if (n.equals("getClass")) {
                        continue;
                    }
                    prop = beanName(n.substring(3));
                } else if (n.startsWith("is") && n.length() > 2
                        && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) {
                    prop = beanName(n.substring(2));
                } else {
                    continue;
                }
                if (!seenSig.add(n)) {
                    continue;
                }
                Getter existing = props.get(prop);
                if (existing != null && existing.method != null
                        && !(existing.method.getName().startsWith("is") && n.startsWith("get"))) {
                    continue; // the most-derived getter wins, and getX() wins over isX()
                }
                if (!trySetAccessible(m)) {
                    continue;
                }
                props.put(prop, new Getter(prop, m, null));
            }
        }
        List<Getter> out = new ArrayList<>(props.size());
        for (Getter g : props.values()) {
            if (g != null) {
                out.add(g);
            }
        }
        return out.toArray(new Getter[0]);
    }

    /** The standard bean rule: "Name" -> "name", "URL" -> "URL", "XValue" -> "XValue". */
    static String beanName(String s) {
        if (s.isEmpty()) {
            return s;
        }
        if (s.length() > 1 && Character.isUpperCase(s.charAt(0)) && Character.isUpperCase(s.charAt(1))) {
            return s;
        }
        char c = s.charAt(0);
        char lc = Character.toLowerCase(c);
        if (c == lc) {
            return s;
        }
        return lc + s.substring(1);
    }

    private static final class Writer {
        final StringBuilder sb;
        final IdentityHashMap<Object, Boolean> active = new IdentityHashMap<>();

        Writer(StringBuilder sb) {
            this.sb = sb;
        }

        void value(Object v, int depth) {
            if (v == null) {
                sb.append("null");
                return;
            }
            if (v instanceof String) {
                writeString(sb, (String) v);
                return;
            }
            if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte
                    || v instanceof BigInteger || v instanceof java.util.concurrent.atomic.AtomicInteger
                    || v instanceof java.util.concurrent.atomic.AtomicLong) {
                sb.append(v.toString());
                return;
            }
            if (v instanceof Double || v instanceof Float) {
                double d = ((Number) v).doubleValue();
                if (Double.isNaN(d) || Double.isInfinite(d)) {
                    sb.append('"').append(v.toString()).append('"');
                } else {
                    sb.append(v.toString());
                }
                return;
            }
            if (v instanceof BigDecimal) {
                sb.append(v.toString());
                return;
            }
            if (v instanceof Boolean) {
                sb.append(((Boolean) v) ? "true" : "false");
                return;
            }
            if (v instanceof Character || v instanceof CharSequence) {
                writeString(sb, v.toString());
                return;
            }
            if (v instanceof Enum) {
                writeString(sb, ((Enum<?>) v).name());
                return;
            }
            if (v instanceof Number) {
                sb.append(v.toString());
                return;
            }
            if (depth > MAX_DEPTH) {
                throw error("Infinite recursion (StackOverflowError) while serializing " + v.getClass().getName());
            }
            if (v instanceof Map) {
                enter(v);
                sb.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    Object k = e.getKey();
                    writeString(sb, k == null ? "" : k instanceof Enum ? ((Enum<?>) k).name() : k.toString());
                    sb.append(':');
                    value(e.getValue(), depth + 1);
                }
                sb.append('}');
                leave(v);
                return;
            }
            if (v instanceof byte[]) {
                sb.append('"').append(Base64.getEncoder().encodeToString((byte[]) v)).append('"');
                return;
            }
            if (v instanceof Iterable || v instanceof Iterator) {
                enter(v);
                sb.append('[');
                Iterator<?> it = v instanceof Iterable ? ((Iterable<?>) v).iterator() : (Iterator<?>) v;
                boolean first = true;
                while (it.hasNext()) {
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    value(it.next(), depth + 1);
                }
                sb.append(']');
                leave(v);
                return;
            }
            if (v.getClass().isArray()) {
                enter(v);
                sb.append('[');
                int n = Array.getLength(v);
                for (int k = 0; k < n; k++) {
                    if (k > 0) {
                        sb.append(',');
                    }
                    value(Array.get(v, k), depth + 1);
                }
                sb.append(']');
                leave(v);
                return;
            }
            if (v instanceof Optional) {
                value(((Optional<?>) v).orElse(null), depth + 1);
                return;
            }
            if (v instanceof OptionalInt) {
                OptionalInt o = (OptionalInt) v;
                sb.append(o.isPresent() ? Integer.toString(o.getAsInt()) : "null");
                return;
            }
            if (v instanceof OptionalLong) {
                OptionalLong o = (OptionalLong) v;
                sb.append(o.isPresent() ? Long.toString(o.getAsLong()) : "null");
                return;
            }
            if (v instanceof OptionalDouble) {
                OptionalDouble o = (OptionalDouble) v;
                value(o.isPresent() ? (Object) o.getAsDouble() : null, depth + 1);
                return;
            }
            if (temporal(v)) {
                return;
            }
            if (v instanceof UUID || v instanceof java.net.URI || v instanceof java.net.URL
                    || v instanceof java.util.regex.Pattern || v instanceof java.util.Locale
                    || v instanceof java.util.TimeZone || v instanceof java.time.ZoneId
                    || v instanceof java.nio.charset.Charset || v instanceof java.io.File) {
                writeString(sb, v instanceof java.util.TimeZone ? ((java.util.TimeZone) v).getID() : v.toString());
                return;
            }
            if (v instanceof Class) {
                writeString(sb, ((Class<?>) v).getName());
                return;
            }
            if (v instanceof java.nio.ByteBuffer) {
                java.nio.ByteBuffer b = ((java.nio.ByteBuffer) v).duplicate();
                byte[] bytes = new byte[b.remaining()];
                b.get(bytes);
                sb.append('"').append(Base64.getEncoder().encodeToString(bytes)).append('"');
                return;
            }
            if (v.getClass().getName().startsWith("org.joda.time.")) {
                writeString(sb, v.toString()); // ISO-8601, as AWS writes joda-time values
                return;
            }
            if (v instanceof Throwable) {
                Throwable t = (Throwable) v;
                sb.append("{\"message\":");
                writeString(sb, String.valueOf(t.getMessage()));
                sb.append(",\"type\":");
                writeString(sb, t.getClass().getName());
                sb.append('}');
                return;
            }
            bean(v, depth);
        }

        void bean(Object v, int depth) {
            enter(v);
            sb.append('{');
            boolean first = true;
            boolean eventClass = v.getClass().getName().startsWith(EVENTS_PACKAGE);
            for (Getter g : writeInfo(v.getClass())) {
                Object pv = g.get(v);
                if (pv == null) {
                    continue; // properties with a null value are left out
                }
                if (pv instanceof Optional && !((Optional<?>) pv).isPresent()) {
                    // Jdk8Module writes absent Optionals as null; NON_NULL keeps them
                    if (!first) {
                        sb.append(',');
                    }
                    first = false;
                    writeString(sb, g.name);
                    sb.append(":null");
                    continue;
                }
                if (pv == v) {
                    throw error("Direct self-reference leading to cycle (through reference chain: "
                            + v.getClass().getName() + "[\"" + g.name + "\"])");
                }
                if (!first) {
                    sb.append(',');
                }
                first = false;
                writeString(sb, g.name);
                sb.append(':');
                if (eventClass && pv instanceof Date) {
                    sb.append(((Date) pv).getTime() / 1000.0); // seconds, like AWS's event serializers
                } else {
                    value(pv, depth + 1);
                }
            }
            sb.append('}');
            leave(v);
        }

        void enter(Object v) {
            if (active.put(v, Boolean.TRUE) != null) {
                throw error("Infinite recursion (StackOverflowError): cycle through " + v.getClass().getName());
            }
        }

        void leave(Object v) {
            active.remove(v);
        }

        boolean temporal(Object v) {
            if (v instanceof Date) {
                sb.append(((Date) v).getTime());
                return true;
            }
            if (v instanceof Calendar) {
                sb.append(((Calendar) v).getTimeInMillis());
                return true;
            }
            // java.time types, written as timestamps (JavaTimeModule with WRITE_DATES_AS_TIMESTAMPS)
            if (v instanceof Instant) {
                Instant i = (Instant) v;
                seconds(i.getEpochSecond(), i.getNano());
                return true;
            }
            if (v instanceof OffsetDateTime) {
                Instant i = ((OffsetDateTime) v).toInstant();
                seconds(i.getEpochSecond(), i.getNano());
                return true;
            }
            if (v instanceof ZonedDateTime) {
                Instant i = ((ZonedDateTime) v).toInstant();
                seconds(i.getEpochSecond(), i.getNano());
                return true;
            }
            if (v instanceof Duration) {
                Duration d = (Duration) v;
                seconds(d.getSeconds(), d.getNano());
                return true;
            }
            if (v instanceof LocalDate) {
                LocalDate d = (LocalDate) v;
                sb.append('[').append(d.getYear()).append(',').append(d.getMonthValue()).append(',')
                        .append(d.getDayOfMonth()).append(']');
                return true;
            }
            if (v instanceof LocalDateTime) {
                LocalDateTime d = (LocalDateTime) v;
                sb.append('[').append(d.getYear()).append(',').append(d.getMonthValue()).append(',')
                        .append(d.getDayOfMonth()).append(',').append(d.getHour()).append(',').append(d.getMinute());
                timeTail(d.getSecond(), d.getNano());
                sb.append(']');
                return true;
            }
            if (v instanceof LocalTime) {
                LocalTime t = (LocalTime) v;
                sb.append('[').append(t.getHour()).append(',').append(t.getMinute());
                timeTail(t.getSecond(), t.getNano());
                sb.append(']');
                return true;
            }
            return false;
        }

        private void timeTail(int second, int nano) {
            if (second > 0 || nano > 0) {
                sb.append(',').append(second);
                if (nano > 0) {
                    sb.append(',').append(nano);
                }
            }
        }

        private void seconds(long secs, int nanos) {
            if (secs == 0 && nanos == 0) {
                sb.append("0.0");
                return;
            }
            sb.append(BigDecimal.valueOf(secs).add(BigDecimal.valueOf(nanos, 9)).toPlainString());
        }
    }
}
