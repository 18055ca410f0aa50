package lanebench.springboot;

import java.math.BigInteger;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import lanebench.springboot.DatabaseSettings.SettingException;

/**
 * Service-to-service mode (targets/CONTRACT.md): ORDERS_URL, DOWNSTREAM_TIMEOUT_MS,
 * DOWNSTREAM_CONNECTIONS and the circuit breaker's BREAKER_FAILURES and BREAKER_OPEN_MS, read
 * before Spring starts so that a bad value is one line and exit code 2 rather than a stack
 * trace. The numbers are checked even without ORDERS_URL, so a typo shows the first time it is
 * made, not when the mode is switched on.
 *
 * @param baseUrl {@code http://HOST:PORT}, without the trailing slash
 * @param breakerFailures consecutive failures that open the breaker; 0 means no breaker
 */
record DownstreamSettings(String baseUrl, int timeoutMs, int connections, int breakerFailures, int breakerOpenMs) {

    static final int DEFAULT_TIMEOUT_MS = 1000;
    static final int DEFAULT_CONNECTIONS = 64;
    static final int DEFAULT_BREAKER_FAILURES = 5;
    static final int DEFAULT_BREAKER_OPEN_MS = 2000;

    /**
     * resilience4j keeps the last BREAKER_FAILURES outcomes in an array of that many objects
     * (about 44 bytes each), allocated again each time the breaker closes; this bound keeps
     * that under 50 MB of the 512 MB heap.
     */
    static final int MAX_BREAKER_FAILURES = 1_000_000;

    /** A name, an IPv4 address or a bracketed IPv6 address, then a port; nothing else. */
    private static final Pattern ORDERS_URL = Pattern.compile(
            "(?i)http://(\\[[0-9a-f:.]+\\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?):([0-9]{1,5})/?");
    private static final Pattern DIGITS = Pattern.compile("[0-9]+");
    private static final BigInteger INT_MAX = BigInteger.valueOf(Integer.MAX_VALUE);

    /** The settings of a user service, or null when ORDERS_URL is unset or empty. */
    static DownstreamSettings fromEnv(Map<String, String> env) throws SettingException {
        int timeoutMs = positive(env, "DOWNSTREAM_TIMEOUT_MS", DEFAULT_TIMEOUT_MS);
        int connections = positive(env, "DOWNSTREAM_CONNECTIONS", DEFAULT_CONNECTIONS);
        int breakerFailures = number(env, "BREAKER_FAILURES", DEFAULT_BREAKER_FAILURES,
                BigInteger.ZERO, BigInteger.valueOf(MAX_BREAKER_FAILURES), "a non-negative integer");
        int breakerOpenMs = positive(env, "BREAKER_OPEN_MS", DEFAULT_BREAKER_OPEN_MS);
        String url = env.getOrDefault("ORDERS_URL", "");
        if (url.isEmpty()) {
            return null;
        }
        Matcher shape = ORDERS_URL.matcher(url);
        if (!shape.matches()) {
            throw new SettingException("ORDERS_URL must be http://HOST:PORT (no path, no query), got '" + url + "'");
        }
        int port = Integer.parseInt(shape.group(3));
        if (port < 1 || port > 65535) {
            throw new SettingException("ORDERS_URL port must be in 1..=65535, got '" + url + "'");
        }
        // Rebuilt rather than trimmed, so an upper-case scheme reaches the client as "http".
        return new DownstreamSettings("http://" + shape.group(1) + ":" + port, timeoutMs, connections,
                breakerFailures, breakerOpenMs);
    }

    /** A set value must be plain digits, 1..=2147483647 (an int, as these settings are used). */
    private static int positive(Map<String, String> env, String name, int fallback) throws SettingException {
        return number(env, name, fallback, BigInteger.ONE, INT_MAX, "a positive integer");
    }

    /** A set value, empty included, must be plain digits within min..=max. */
    private static int number(Map<String, String> env, String name, int fallback, BigInteger min, BigInteger max,
            String kind) throws SettingException {
        String raw = env.get(name);
        if (raw == null) {
            return fallback;
        }
        BigInteger value = DIGITS.matcher(raw).matches() ? new BigInteger(raw) : null;
        if (value == null || value.compareTo(min) < 0 || value.compareTo(max) > 0) {
            throw new SettingException(name + " must be " + kind + " (at most " + max + "), got '" + raw + "'");
        }
        return value.intValue();
    }
}
