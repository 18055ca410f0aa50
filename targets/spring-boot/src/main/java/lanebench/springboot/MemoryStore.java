package lanebench.springboot;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import lanebench.springboot.Models.Order;
import lanebench.springboot.Models.OrderItem;
import lanebench.springboot.Models.User;
import org.springframework.context.annotation.Profile;
import org.springframework.stereotype.Component;

/**
 * The in-memory store (the default), shared by all Tomcat threads: one id counter, and per
 * user an immutable list of at most {@link #ORDERS_PER_USER} orders, newest first. Users
 * are computed from their id.
 */
@Component
@Profile("!postgres")
class MemoryStore implements Store {

    static final int ORDERS_PER_USER = 16;

    private final AtomicLong lastId = new AtomicLong();
    private final ConcurrentHashMap<BigInteger, List<Order>> byUser = new ConcurrentHashMap<>();

    @Override
    public Optional<User> user(long id) {
        return Optional.of(new User(id, "User " + id, "user" + id + "@example.com"));
    }

    @Override
    public Order create(BigInteger userId, List<OrderItem> items, double orderTotal) {
        final Order[] created = new Order[1];
        // The id is taken inside compute(), under the user's bin lock, so each user's
        // list stays in id order even when that user's orders arrive concurrently.
        byUser.compute(userId, (key, old) -> {
            Order order = new Order(lastId.incrementAndGet(), userId, List.copyOf(items),
                    orderTotal, "created", System.currentTimeMillis());
            created[0] = order;
            List<Order> fresh = new ArrayList<>(ORDERS_PER_USER);
            fresh.add(order);
            if (old != null) {
                fresh.addAll(old.subList(0, Math.min(old.size(), ORDERS_PER_USER - 1)));
            }
            return List.copyOf(fresh);
        });
        return created[0];
    }

    @Override
    public List<Order> forUser(long userId) {
        return byUser.getOrDefault(BigInteger.valueOf(userId), List.of());
    }
}
