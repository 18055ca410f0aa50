package lanebench.springboot;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import lanebench.springboot.DatabaseSettings.SettingException;
import org.springframework.boot.ssl.pem.PemContent;

/**
 * PROTOCOL, TLS_CERT and TLS_KEY (targets/CONTRACT.md, "Protocols"), read before Spring
 * starts so that an unknown protocol or a certificate that cannot be loaded is one line and
 * exit code 2, not a Tomcat stack trace. Each protocol is only Spring Boot's own server
 * properties: {@code server.ssl.*} from the PEM files and {@code server.http2.enabled}; the
 * embedded Tomcat serves all four.
 *
 * @param protocol the contract's name of the protocol
 * @param certificate the PEM chain, or null without TLS
 * @param privateKey the PEM PKCS#8 key, or null without TLS
 */
record ProtocolSettings(String protocol, Path certificate, Path privateKey) {

    /** The settings for PROTOCOL, h1 when it is unset. */
    static ProtocolSettings fromEnv(Map<String, String> env) throws SettingException {
        String protocol = env.getOrDefault("PROTOCOL", "h1");
        switch (protocol) {
            case "h1", "h2c" -> {
                return new ProtocolSettings(protocol, null, null);
            }
            case "h1-tls", "h2" -> {
                Path certificate = readable(env, "TLS_CERT", protocol);
                Path privateKey = readable(env, "TLS_KEY", protocol);
                checkPem(certificate, privateKey);
                return new ProtocolSettings(protocol, certificate, privateKey);
            }
            default -> throw new SettingException(
                    "PROTOCOL must be 'h1', 'h1-tls', 'h2c' or 'h2', got '" + protocol + "'");
        }
    }

    private static Path readable(Map<String, String> env, String name, String protocol) throws SettingException {
        String raw = env.getOrDefault(name, "");
        if (raw.isEmpty()) {
            throw new SettingException("PROTOCOL=" + protocol + " needs " + name + " (a PEM file)");
        }
        Path path = Path.of(raw).toAbsolutePath();
        if (!Files.isRegularFile(path) || !Files.isReadable(path)) {
            throw new SettingException(name + " '" + raw + "' is not a readable file");
        }
        return path;
    }

    /**
     * Loads both files with the PEM reader Spring Boot itself uses for server.ssl.*, so that
     * a file that is readable but holds no certificate or no key fails here, in one line.
     */
    private static void checkPem(Path certificate, Path privateKey) throws SettingException {
        try {
            if (PemContent.load(certificate).getCertificates().isEmpty()) {
                throw new SettingException("TLS_CERT '" + certificate + "' holds no PEM certificate");
            }
        } catch (SettingException e) {
            throw e;
        } catch (Exception e) {
            throw new SettingException("TLS_CERT '" + certificate + "' cannot be loaded: " + oneLine(e));
        }
        try {
            if (PemContent.load(privateKey).getPrivateKey() == null) {
                throw new SettingException("TLS_KEY '" + privateKey + "' holds no PEM private key");
            }
        } catch (SettingException e) {
            throw e;
        } catch (Exception e) {
            throw new SettingException("TLS_KEY '" + privateKey + "' cannot be loaded: " + oneLine(e));
        }
    }

    private static String oneLine(Exception e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return message.replaceAll("\\s+", " ");
    }

    /**
     * The server properties of this protocol; none for h1, which is Spring Boot's default.
     * HTTP/2 is off with h1-tls, so Tomcat offers no ALPN and every TLS client speaks HTTP/1.1.
     * Without TLS, server.http2.enabled makes Tomcat accept the HTTP/2 connection preface
     * (prior knowledge) on the same connector that serves HTTP/1.1.
     */
    Properties springProperties() {
        Properties props = new Properties();
        if (protocol.equals("h1")) {
            return props;
        }
        props.setProperty("server.http2.enabled", String.valueOf(protocol.startsWith("h2")));
        if (certificate != null) {
            props.setProperty("server.ssl.certificate", certificate.toUri().toString());
            props.setProperty("server.ssl.certificate-private-key", privateKey.toUri().toString());
        }
        return props;
    }
}
