package lanebench.springboot;

import java.math.BigInteger;
import java.util.List;
import java.util.Optional;
import lanebench.springboot.Models.Order;
import lanebench.springboot.Models.OrderItem;
import lanebench.springboot.Models.User;

/**
 * Where users and orders live: {@link MemoryStore} by default, {@link JdbcStore} with
 * STORE=postgres (the "postgres" profile). Ids reaching a store are already in the
 * contract's ranges (users 1..=1000000, a validated order).
 */
interface Store {

    /** The user with this id, or empty if there is none. */
    Optional<User> user(long id);

    /** The user's newest orders (at most 16), newest first. */
    List<Order> forUser(long userId);

    /**
     * The store's own limits on an order's items beyond the contract's validation (a 400
     * {@link ApiException}); a user service applies them before forwarding an order.
     */
    default void checkItems(List<OrderItem> items) {}

    /** Stores a new order with its items and returns it with its id. */
    Order create(BigInteger userId, List<OrderItem> items, double total);
}
