package lanebench.springboot;

import java.math.BigInteger;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import lanebench.springboot.DatabaseSettings.SettingException;

/**
 * Service-to-service mode (targets/CONTRACT.md): ORDERS_URL, DOWNSTREAM_TIMEOUT_MS and
 * DOWNSTREAM_CONNECTIONS, read before Spring starts so that a bad value is one line and exit
 * code 2 rather than a stack trace. The two numbers are checked even without ORDERS_URL, so a
 * typo shows the first time it is made, not when the mode is switched on.
 *
 * @param baseUrl {@code http://HOST:PORT}, without the trailing slash
 */
record DownstreamSettings(String baseUrl, int timeoutMs, int connections) {

    static final int DEFAULT_TIMEOUT_MS = 1000;
    static final int DEFAULT_CONNECTIONS = 64;

    /** A name, an IPv4 address or a bracketed IPv6 address, then a port; nothing else. */
    private static final Pattern ORDERS_URL = Pattern.compile(
            "(?i)http://(\\[[0-9a-f:.]+\\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?):([0-9]{1,5})/?");
    private static final Pattern POSITIVE_INTEGER = Pattern.compile("[0-9]+");
    private static final BigInteger INT_MAX = BigInteger.valueOf(Integer.MAX_VALUE);

    /** The settings of a user service, or null when ORDERS_URL is unset or empty. */
    static DownstreamSettings fromEnv(Map<String, String> env) throws SettingException {
        int timeoutMs = positive(env, "DOWNSTREAM_TIMEOUT_MS", DEFAULT_TIMEOUT_MS);
        int connections = positive(env, "DOWNSTREAM_CONNECTIONS", DEFAULT_CONNECTIONS);
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
        return new DownstreamSettings("http://" + shape.group(1) + ":" + port, timeoutMs, connections);
    }

    /** A set value must be plain digits, 1..=2147483647 (an int, as both settings are used). */
    private static int positive(Map<String, String> env, String name, int fallback) throws SettingException {
        String raw = env.get(name);
        if (raw == null) {
            return fallback;
        }
        BigInteger value = POSITIVE_INTEGER.matcher(raw).matches() ? new BigInteger(raw) : BigInteger.ZERO;
        if (value.signum() < 1 || value.compareTo(INT_MAX) > 0) {
            throw new SettingException(
                    name + " must be a positive integer (at most " + Integer.MAX_VALUE + "), got '" + raw + "'");
        }
        return value.intValue();
    }
}
