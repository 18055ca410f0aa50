package lanebench.springboot;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigInteger;
import java.util.List;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.function.Supplier;
import lanebench.springboot.Models.Order;
import lanebench.springboot.Models.OrderItem;
import lanebench.springboot.Models.OrderRequest;
import org.apache.hc.client5.http.config.ConnectionConfig;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.context.annotation.Profile;
import org.springframework.core.ParameterizedTypeReference;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.client.BufferingClientHttpRequestFactory;
import org.springframework.http.client.ClientHttpResponse;
import org.springframework.http.converter.json.MappingJackson2HttpMessageConverter;
import org.springframework.stereotype.Component;
import org.springframework.web.client.RestClient;

/**
 * The user service's one client to the order service (service-to-service mode), made once at
 * startup: Spring's RestClient on Apache HttpClient 5 with a pooling connection manager of
 * DOWNSTREAM_CONNECTIONS keep-alive connections, and a deadline of DOWNSTREAM_TIMEOUT_MS on
 * each whole call, behind the process's one {@link OrdersBreaker} (none with
 * BREAKER_FAILURES=0). Every failure, a call the open breaker refused included, comes out as
 * {@link Unavailable}, never as anything else.
 */
@Component
@Profile(Application.USER_SERVICE_PROFILE)
class OrdersClient implements DisposableBean {

    /**
     * A pooled connection idle this long is checked before reuse (a 1 ms read), so connections
     * the order service closed while idle, for instance when it restarted, are dropped instead
     * of failing a request. Busier connections skip the check; one that turns out dead fails
     * its one request and is discarded.
     */
    private static final Logger log = LoggerFactory.getLogger(OrdersClient.class);

    private static final TimeValue VALIDATE_AFTER_INACTIVITY = TimeValue.ofSeconds(1);

    /** The warm-up's answered calls may take a cold JVM well over DOWNSTREAM_TIMEOUT_MS. */
    private static final long WARM_UP_BUDGET_MS = 10_000;

    /** Long enough for a cold JVM to send the request, short enough not to delay startup. */
    private static final long WARM_UP_DEADLINE_MS = 200;

    private static final ParameterizedTypeReference<List<Order>> ORDER_LIST = new ParameterizedTypeReference<>() {};

    /** Why a call to the order service did not give what was needed. */
    static final class Unavailable extends RuntimeException {
        Unavailable(String message) {
            super(message, null, false, false);
        }
    }

    private final CloseableHttpClient httpClient;
    private final ScheduledThreadPoolExecutor timers;
    private final DeadlineRequestFactory requests;
    private final RestClient rest;
    private final int timeoutMs;
    private final String baseUrl;
    /** Null when BREAKER_FAILURES=0: then every call goes straight to the order service. */
    private final OrdersBreaker breaker;

    OrdersClient(DownstreamSettings settings, RestClient.Builder builder, ObjectMapper mapper) {
        timeoutMs = settings.timeoutMs();
        Timeout timeout = Timeout.ofMilliseconds(timeoutMs);
        // Per-phase limits as a backstop; the deadline below bounds their sum.
        ConnectionConfig connections = ConnectionConfig.custom()
                .setConnectTimeout(timeout)
                .setSocketTimeout(timeout)
                .setValidateAfterInactivity(VALIDATE_AFTER_INACTIVITY)
                .build();
        PoolingHttpClientConnectionManager pool = PoolingHttpClientConnectionManagerBuilder.create()
                .setMaxConnTotal(settings.connections())
                .setMaxConnPerRoute(settings.connections())
                .setDefaultConnectionConfig(connections)
                .build();
        httpClient = HttpClients.custom()
                .setConnectionManager(pool)
                .setDefaultRequestConfig(RequestConfig.custom()
                        .setConnectionRequestTimeout(timeout)
                        .setResponseTimeout(timeout)
                        .build())
                // The default strategy replays idempotent requests after an I/O error and
                // after a 503: a GET could reach the order service twice. No replay at all.
                .disableAutomaticRetries()
                // A redirect would be a second call; any status but the expected one fails.
                .disableRedirectHandling()
                .evictExpiredConnections()
                .build();
        timers = new ScheduledThreadPoolExecutor(1, runnable -> {
            Thread thread = new Thread(runnable, "orders-deadline");
            thread.setDaemon(true);
            return thread;
        });
        timers.setRemoveOnCancelPolicy(true);
        requests = new DeadlineRequestFactory(httpClient, timers);
        // The order service's answers must be whole orders: a missing or null field fails
        // decoding instead of becoming 0 or null in the summary.
        ObjectMapper strict = mapper.copy()
                .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES);
        baseUrl = settings.baseUrl();
        rest = builder
                // Buffered so the order post goes out with a Content-Length, not chunked.
                .requestFactory(new BufferingClientHttpRequestFactory(requests))
                .messageConverters(converters -> {
                    converters.removeIf(MappingJackson2HttpMessageConverter.class::isInstance);
                    converters.add(0, new MappingJackson2HttpMessageConverter(strict));
                })
                .build();
        warmUp(pool);
        // After the warm-up, which must neither count as a call nor be refused.
        breaker = OrdersBreaker.of(settings);
    }

    /** GET {ORDERS_URL}/api/users/{id}/orders: the user's orders, decoded. */
    List<Order> ordersOf(long userId) {
        if (breaker == null) {
            return ordersOf(baseUrl, userId, timeoutMs);
        }
        return breaker.call(() -> ordersOf(baseUrl, userId, timeoutMs));
    }

    /** POST {ORDERS_URL}/api/orders for this user: the created order, decoded. */
    Order create(long userId, List<OrderItem> items) {
        if (breaker == null) {
            return create(baseUrl, userId, items, timeoutMs);
        }
        return breaker.call(() -> create(baseUrl, userId, items, timeoutMs));
    }

    /**
     * The first call through a cold JVM loads and links a few thousand classes (RestClient,
     * HttpClient's exec chain, Jackson's record deserializers) and takes longer than a
     * typical DOWNSTREAM_TIMEOUT_MS: one GET and one POST to a throwaway local server, and one
     * GET that it never answers (so a deadline fires once), before the port opens, so that
     * the first summary or fallback is not late for that reason alone. The order service
     * itself is not called.
     */
    private void warmUp(PoolingHttpClientConnectionManager pool) {
        try (ClientWarmUp server = ClientWarmUp.start()) {
            ordersOf(server.baseUrl(), 1, WARM_UP_BUDGET_MS);
            create(server.baseUrl(), 1, server.sampleItems(), WARM_UP_BUDGET_MS);
            try {
                ordersOf(server.baseUrl(), ClientWarmUp.UNANSWERED_USER, WARM_UP_DEADLINE_MS);
            } catch (Unavailable expected) {
                // The deadline fired, as it should.
            }
        } catch (IOException | Unavailable e) {
            log.info("warm-up of the order service client did not complete: {}", e.getMessage());
        }
        // Its connection leads nowhere now.
        pool.closeIdle(TimeValue.ZERO_MILLISECONDS);
    }

    private List<Order> ordersOf(String base, long userId, long budgetMillis) {
        return call(budgetMillis, () -> rest.get()
                .uri(base + "/api/users/{id}/orders", userId)
                .accept(MediaType.APPLICATION_JSON)
                .exchange((request, response) -> {
                    expect(response, HttpStatus.OK);
                    List<Order> orders = response.bodyTo(ORDER_LIST);
                    if (orders == null || orders.stream().anyMatch(order -> !complete(order))) {
                        throw new Unavailable("the order service's answer is not a list of orders");
                    }
                    return orders;
                }));
    }

    private Order create(String base, long userId, List<OrderItem> items, long budgetMillis) {
        OrderRequest body = new OrderRequest(BigInteger.valueOf(userId), items);
        return call(budgetMillis, () -> rest.post()
                .uri(base + "/api/orders")
                .contentType(MediaType.APPLICATION_JSON)
                .accept(MediaType.APPLICATION_JSON)
                .body(body)
                .exchange((request, response) -> {
                    expect(response, HttpStatus.CREATED);
                    Order order = response.bodyTo(Order.class);
                    if (!complete(order)) {
                        throw new Unavailable("the order service's answer is not an order");
                    }
                    return order;
                }));
    }

    /** One call under a deadline; whatever goes wrong becomes {@link Unavailable}. */
    private <T> T call(long budgetMillis, Supplier<T> exchange) {
        DeadlineRequestFactory.Deadline deadline = DeadlineRequestFactory.startDeadline(budgetMillis);
        try {
            return requests.within(deadline, exchange);
        } catch (Unavailable e) {
            throw e;
        } catch (RuntimeException e) {
            if (deadline.fired()) {
                throw new Unavailable("no complete answer within " + budgetMillis + " ms");
            }
            throw new Unavailable(reason(e));
        }
    }

    private static void expect(ClientHttpResponse response, HttpStatus expected) throws IOException {
        if (response.getStatusCode().value() != expected.value()) {
            throw new Unavailable("the order service answered " + response.getStatusCode().value()
                    + ", not " + expected.value());
        }
    }

    /** Lists decoded by Jackson may hold nulls, which no creator-property check sees. */
    private static boolean complete(Order order) {
        return order != null && !order.items().contains(null);
    }

    /** The innermost cause's first line: "Connection refused", Jackson's complaint, ... */
    private static String reason(Throwable e) {
        Throwable cause = e;
        while (cause.getCause() != null && cause.getCause() != cause) {
            cause = cause.getCause();
        }
        String message = cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
        return message.lines().findFirst().orElse(cause.getClass().getSimpleName());
    }

    @Override
    public void destroy() {
        timers.shutdownNow();
        httpClient.close(CloseMode.IMMEDIATE);
    }
}
