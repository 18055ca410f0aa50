package lanebench.springboot;

import java.net.URI;
import java.net.URISyntaxException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Map;
import java.util.Properties;

/**
 * STORE and DATABASE_URL, read before Spring starts so that a bad setting is one line and
 * exit code 2 and an unreachable database one line and exit code 1, not a stack trace.
 * DATABASE_URL ({@code postgres://user[:password]@host:port/db[?params]}) becomes the
 * {@code spring.datasource.*} properties of the "postgres" profile.
 */
record DatabaseSettings(String jdbcUrl, String user, String password) {

    /** How long a request may wait for a pool connection; also the startup probe's limit. */
    static final int CONNECT_TIMEOUT_SECONDS = 3;

    /** A setting that is missing or malformed. */
    static final class SettingException extends Exception {
        SettingException(String message) {
            super(message, null, false, false);
        }
    }

    /** The settings for STORE=postgres, or null for memory mode. */
    static DatabaseSettings fromEnv(Map<String, String> env) throws SettingException {
        String store = env.getOrDefault("STORE", "memory");
        if (store.equals("memory")) {
            return null;
        }
        if (!store.equals("postgres")) {
            throw new SettingException("STORE must be 'memory' or 'postgres', got '" + store + "'");
        }
        String url = env.get("DATABASE_URL");
        if (url == null) {
            throw new SettingException("STORE=postgres needs DATABASE_URL (postgres://...)");
        }
        return parse(url);
    }

    static DatabaseSettings parse(String url) throws SettingException {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new SettingException("DATABASE_URL '" + url + "': " + e.getMessage());
        }
        if (!"postgres".equals(uri.getScheme()) && !"postgresql".equals(uri.getScheme())) {
            throw new SettingException("DATABASE_URL must be a postgres:// URL, got '" + url + "'");
        }
        if (uri.getHost() == null) {
            throw new SettingException("DATABASE_URL '" + url + "' has no host:port (or the port is not a number)");
        }
        String user = null;
        String password = null;
        if (uri.getUserInfo() != null) {
            String[] parts = uri.getUserInfo().split(":", 2);
            user = parts[0];
            password = parts.length > 1 ? parts[1] : null;
        }
        String jdbcUrl = "jdbc:postgresql://" + uri.getHost() + (uri.getPort() == -1 ? "" : ":" + uri.getPort())
                + (uri.getRawPath() == null ? "/" : uri.getRawPath())
                + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
        return new DatabaseSettings(jdbcUrl, user, password);
    }

    /** Opens one connection and closes it, so an unreachable database fails at startup. */
    void probe() throws SQLException {
        Properties props = credentials();
        props.setProperty("connectTimeout", String.valueOf(CONNECT_TIMEOUT_SECONDS));
        try (Connection ignored = DriverManager.getConnection(jdbcUrl, props)) {
            // Connecting is the whole check.
        }
    }

    private Properties credentials() {
        Properties props = new Properties();
        if (user != null) {
            props.setProperty("user", user);
        }
        if (password != null) {
            props.setProperty("password", password);
        }
        return props;
    }

    /**
     * The datasource properties. CONTRACT.md, "Pool size": max(4, 2 * WORKERS) connections
     * for the one process, WORKERS being the CPUs the JVM sees (-XX:ActiveProcessorCount).
     */
    Properties springProperties(int cpus) {
        Properties props = new Properties();
        props.setProperty("spring.datasource.url", jdbcUrl);
        if (user != null) {
            props.setProperty("spring.datasource.username", user);
        }
        if (password != null) {
            props.setProperty("spring.datasource.password", password);
        }
        props.setProperty("spring.datasource.hikari.maximum-pool-size", String.valueOf(Math.max(4, 2 * cpus)));
        props.setProperty("spring.datasource.hikari.connection-timeout", String.valueOf(CONNECT_TIMEOUT_SECONDS * 1000));
        return props;
    }
}
