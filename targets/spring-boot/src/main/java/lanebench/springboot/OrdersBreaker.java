package lanebench.springboot;

import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig.SlidingWindowSynchronizationStrategy;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig.SlidingWindowType;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The circuit breaker around calls to the order service (targets/CONTRACT.md, "Circuit
 * breaker"): resilience4j's CircuitBreaker, configured so that its failure-rate rule is the
 * contract's consecutive-failure rule. One per process, held by the one {@link OrdersClient}.
 *
 * <ul>
 *   <li>A count-based window of the last N outcomes, at least N of them needed, opening at a
 *   100% failure rate: it opens exactly when the last N outcomes all failed, that is after N
 *   consecutive failures, and any success in the window keeps it closed, as a reset count would.
 *   <li>Open for BREAKER_OPEN_MS from the moment the opening failure is recorded (resilience4j
 *   fixes the end of the open state when it enters it); no timer thread, the first call after
 *   that moves it to half-open.
 *   <li>Half-open lets one call through (an atomic permit counter); the others are refused until
 *   its outcome closes the breaker (a fresh, empty window) or opens it again.
 * </ul>
 */
final class OrdersBreaker {

    /** What a refused call answers: the fallback, without touching the order service. */
    private static final OrdersClient.Unavailable OPEN = new OrdersClient.Unavailable("circuit open");

    private final CircuitBreaker breaker;

    private OrdersBreaker(CircuitBreaker breaker) {
        this.breaker = breaker;
    }

    /** The breaker the settings ask for, or null for BREAKER_FAILURES=0 (no breaker at all). */
    static OrdersBreaker of(DownstreamSettings settings) {
        int failures = settings.breakerFailures();
        if (failures == 0) {
            return null;
        }
        warmUp();
        return new OrdersBreaker(CircuitBreaker.of("orders", config(failures, settings.breakerOpenMs())));
    }

    private static CircuitBreakerConfig config(int failures, long openMs) {
        return CircuitBreakerConfig.custom()
                // The default SYNCHRONIZED window holds a lock only to update a few counters.
                .slidingWindow(failures, failures, SlidingWindowType.COUNT_BASED,
                        SlidingWindowSynchronizationStrategy.SYNCHRONIZED)
                .failureRateThreshold(100)
                // Durations are reported as 0 (see below), so no call is ever slow and the
                // slow-call rule, which the contract does not have, never opens the breaker.
                .slowCallRateThreshold(100)
                .waitDurationInOpenState(Duration.ofMillis(openMs))
                .automaticTransitionFromOpenToHalfOpenEnabled(false)
                .permittedNumberOfCallsInHalfOpenState(1)
                // Zero: the probe waits for its own deadline, never for a timer.
                .maxWaitDurationInHalfOpenState(Duration.ZERO)
                // Every failure reaches the breaker as OrdersClient.Unavailable: refused, reset,
                // timeout, wrong status and bad body alike.
                .recordException(thrown -> true)
                .clock(MonotonicClock.INSTANCE)
                .build();
    }

    /**
     * Takes a throwaway breaker through open, a refusal, half-open and closed before the port
     * opens, so that loading those classes in a cold JVM does not slow the first fast failure.
     */
    private static void warmUp() {
        OrdersBreaker scratch = new OrdersBreaker(CircuitBreaker.of("warm-up", config(1, 1)));
        for (int call = 0; call < 2; call++) {
            try {
                scratch.call(() -> {
                    throw new OrdersClient.Unavailable("warm-up");
                });
            } catch (OrdersClient.Unavailable expected) {
                // The first failure opens it, the second call is refused.
            }
        }
        try {
            Thread.sleep(2);
            // Past its 1 ms open state: the half-open probe, which closes it.
            scratch.call(() -> true);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (OrdersClient.Unavailable refused) {
            // Only a warm-up; the real breaker is a new one.
        }
    }

    /**
     * One downstream call through the breaker. A refused call throws the circuit-open
     * {@link OrdersClient.Unavailable} at once; a call let through has its outcome recorded,
     * whatever it is (an Error included, so a probe can never leave the breaker half-open).
     */
    <T> T call(Supplier<T> downstream) {
        if (!breaker.tryAcquirePermission()) {
            throw OPEN;
        }
        // Read after the permit: a probe reads HALF_OPEN here, since only its own outcome can
        // end the half-open state it was let through in.
        boolean probe = breaker.getState() == CircuitBreaker.State.HALF_OPEN;
        T result;
        try {
            result = downstream.get();
        } catch (Throwable e) {
            record(probe, e);
            throw e;
        }
        record(probe, null);
        return result;
    }

    /**
     * resilience4j records an outcome in whatever state the breaker is in when it arrives, so
     * a call let through while closed that ends during half-open (possible when
     * DOWNSTREAM_TIMEOUT_MS exceeds BREAKER_OPEN_MS) would close or reopen the breaker in the
     * probe's place. Such a late outcome is dropped: only the probe decides.
     */
    private void record(boolean probe, Throwable failure) {
        if (!probe && breaker.getState() == CircuitBreaker.State.HALF_OPEN) {
            return;
        }
        if (failure == null) {
            breaker.onSuccess(0, TimeUnit.NANOSECONDS);
        } else {
            breaker.onError(0, TimeUnit.NANOSECONDS, failure);
        }
    }

    /**
     * resilience4j times the open state with its Clock; the default is the wall clock, which a
     * time adjustment would move. This one counts from System.nanoTime.
     */
    private static final class MonotonicClock extends Clock {
        static final MonotonicClock INSTANCE = new MonotonicClock();

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        /** The breaker only compares instants; a zone would change nothing. */
        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return Instant.ofEpochSecond(0, System.nanoTime());
        }
    }
}
