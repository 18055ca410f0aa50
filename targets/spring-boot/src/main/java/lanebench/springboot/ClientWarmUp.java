package lanebench.springboot;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import lanebench.springboot.Models.OrderItem;

/**
 * A throwaway HTTP/1.1 server on a free loopback port that answers every GET with a list of
 * one order and every POST with that order (201), except the orders of
 * {@link #UNANSWERED_USER}, which it never answers; for {@link OrdersClient}'s warm-up at
 * startup. It serves from one daemon thread and stops accepting when closed.
 */
final class ClientWarmUp implements AutoCloseable {

    /** GET /api/users/{this}/orders gets no answer: the client's deadline has to end it. */
    static final long UNANSWERED_USER = 2;

    private static final String ORDER = "{\"id\":1,\"user_id\":1,\"items\":[{\"product_id\":1,\"quantity\":1,"
            + "\"price\":1.0}],\"total\":1.0,\"status\":\"created\",\"created_at\":0}";
    private static final Pattern CONTENT_LENGTH = Pattern.compile("(?im)^content-length:\\s*([0-9]+)");
    private static final byte[] END_OF_HEAD = {'\r', '\n', '\r', '\n'};

    private final ServerSocket listener;

    private ClientWarmUp(ServerSocket listener) {
        this.listener = listener;
    }

    static ClientWarmUp start() throws IOException {
        ClientWarmUp server = new ClientWarmUp(new ServerSocket(0, 4, InetAddress.getLoopbackAddress()));
        Thread thread = new Thread(server::serve, "orders-client-warm-up");
        thread.setDaemon(true);
        thread.start();
        return server;
    }

    String baseUrl() {
        return "http://127.0.0.1:" + listener.getLocalPort();
    }

    List<OrderItem> sampleItems() {
        return List.of(new OrderItem(BigInteger.ONE, 1L, 1.0));
    }

    @Override
    public void close() throws IOException {
        listener.close();
    }

    private void serve() {
        while (!listener.isClosed()) {
            try (Socket connection = listener.accept()) {
                connection.setSoTimeout(10_000);
                answerAll(connection);
            } catch (IOException stopped) {
                // Closed, or the client went away: either way the warm-up is over.
            }
        }
    }

    /** Answers the requests of one keep-alive connection until the client closes it. */
    private static void answerAll(Socket connection) throws IOException {
        InputStream in = new BufferedInputStream(connection.getInputStream());
        OutputStream out = connection.getOutputStream();
        String head;
        while ((head = readHead(in)) != null) {
            if (head.startsWith("GET /api/users/" + UNANSWERED_USER + "/")) {
                // Hold the connection until the client gives up on it.
                while (in.read() >= 0) {
                    // Nothing more is sent on it.
                }
                return;
            }
            Matcher length = CONTENT_LENGTH.matcher(head);
            in.readNBytes(length.find() ? Integer.parseInt(length.group(1)) : 0);
            boolean post = head.startsWith("POST ");
            byte[] body = (post ? ORDER : "[" + ORDER + "]").getBytes(StandardCharsets.UTF_8);
            String status = post ? "201 Created" : "200 OK";
            out.write(("HTTP/1.1 " + status + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
        }
    }

    /** The request line and headers, or null when the connection ends first. */
    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        while (matched < END_OF_HEAD.length) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            head.write(b);
            matched = b == END_OF_HEAD[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        return head.toString(StandardCharsets.US_ASCII);
    }
}
