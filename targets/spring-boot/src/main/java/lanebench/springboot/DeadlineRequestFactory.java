package lanebench.springboot;

import java.net.URI;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.hc.client5.http.classic.HttpClient;
import org.apache.hc.core5.concurrent.Cancellable;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.springframework.http.HttpMethod;
import org.springframework.http.client.HttpComponentsClientHttpRequestFactory;

/**
 * Spring's request factory for Apache HttpClient 5, plus a deadline on the whole exchange.
 *
 * <p>HttpClient's own timeouts are per phase (pool lease, connect, each socket read), so a
 * slow lease followed by a slow connect and a trickling body could add up to several times
 * the budget. {@link #within} runs one RestClient call on the calling thread; the Apache
 * request it creates is cancelled when the budget runs out, which closes its connection
 * (or gives up the pool lease) at once, and the call fails with an IOException that
 * RestClient reports. The deadline reaches the request through a thread-local because
 * RestClient creates the request inside the call, with no hook that could carry it.
 */
final class DeadlineRequestFactory extends HttpComponentsClientHttpRequestFactory {

    /** One call's deadline; fired says whether it cut the call short. */
    static final class Deadline {
        private final long endNanos;
        private ScheduledFuture<?> timer;
        private volatile boolean fired;

        private Deadline(long endNanos) {
            this.endNanos = endNanos;
        }

        boolean fired() {
            return fired;
        }
    }

    private final ScheduledExecutorService timers;
    private final ThreadLocal<Deadline> current = new ThreadLocal<>();

    DeadlineRequestFactory(HttpClient client, ScheduledExecutorService timers) {
        super(client);
        this.timers = timers;
    }

    /**
     * Runs call (one RestClient exchange, response read included) under a fresh deadline.
     * The deadline is handed to the caller before the call so it can tell a timeout from
     * other failures afterwards.
     */
    <T> T within(Deadline deadline, Supplier<T> call) {
        current.set(deadline);
        try {
            return call.get();
        } finally {
            current.remove();
            if (deadline.timer != null) {
                deadline.timer.cancel(false);
            }
        }
    }

    /** A deadline that ends budgetMillis from now. */
    static Deadline startDeadline(long budgetMillis) {
        return new Deadline(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(budgetMillis));
    }

    @Override
    protected ClassicHttpRequest createHttpUriRequest(HttpMethod method, URI uri) {
        ClassicHttpRequest request = super.createHttpUriRequest(method, uri);
        Deadline deadline = current.get();
        if (deadline != null && request instanceof Cancellable cancellable) {
            long left = deadline.endNanos - System.nanoTime();
            Runnable expire = () -> {
                deadline.fired = true;
                cancellable.cancel();
            };
            if (left <= 0) {
                expire.run();
            } else {
                deadline.timer = timers.schedule(expire, left, TimeUnit.NANOSECONDS);
            }
        }
        return request;
    }
}
