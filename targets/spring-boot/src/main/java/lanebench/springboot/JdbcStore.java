package lanebench.springboot;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import lanebench.springboot.Models.Order;
import lanebench.springboot.Models.OrderItem;
import lanebench.springboot.Models.User;
import org.springframework.context.annotation.Profile;
import org.springframework.http.HttpStatus;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.PlatformTransactionManager;
import org.springframework.transaction.support.TransactionTemplate;

/**
 * Database mode (STORE=postgres): users and orders in PostgreSQL through Spring's
 * {@link JdbcClient} on the HikariCP pool Spring Boot configures, with the statements
 * targets/CONTRACT.md prescribes. The PostgreSQL driver prepares a statement on the server
 * once a connection has run it a few times (its default prepareThreshold).
 * Database failures surface as Spring's DataAccessException or TransactionException,
 * which {@link ApiErrorHandler} answers with a 503.
 */
@Component
@Profile("postgres")
class JdbcStore implements Store {

    private static final String SELECT_USER = "SELECT id, name, email FROM users WHERE id = ?";
    private static final String INSERT_ORDER = "INSERT INTO orders (user_id, total, status, created_at) "
            + "VALUES (?, ?, 'created', ?) RETURNING id";
    private static final String INSERT_ITEMS = "INSERT INTO order_items (order_id, position, product_id, quantity, price) "
            + "SELECT ?, t.position, t.product_id, t.quantity, t.price "
            + "FROM unnest(?::bigint[], ?::bigint[], ?::float8[]) WITH ORDINALITY "
            + "AS t(product_id, quantity, price, position)";
    private static final String SELECT_ORDERS = "SELECT o.id, o.total, o.status, o.created_at, "
            + "i.product_id, i.quantity, i.price "
            + "FROM (SELECT id, total, status, created_at FROM orders WHERE user_id = ? "
            + "ORDER BY id DESC LIMIT 16) AS o "
            + "JOIN order_items AS i ON i.order_id = o.id ORDER BY o.id DESC, i.position";

    private static final BigInteger BIGINT_MAX = BigInteger.valueOf(Long.MAX_VALUE);

    /** One row of SELECT_ORDERS: an order's columns repeated for each of its items. */
    private record OrderItemRow(long id, double total, String status, long createdAt, OrderItem item) {}

    private final JdbcClient jdbc;
    private final TransactionTemplate transactions;

    JdbcStore(JdbcClient jdbc, PlatformTransactionManager transactionManager) {
        this.jdbc = jdbc;
        this.transactions = new TransactionTemplate(transactionManager);
    }

    @Override
    public Optional<User> user(long id) {
        return jdbc.sql(SELECT_USER)
                .param(id)
                .query((rs, row) -> new User(rs.getLong(1), rs.getString(2), rs.getString(3)))
                .optional();
    }

    @Override
    public List<Order> forUser(long userId) {
        List<OrderItemRow> rows = jdbc.sql(SELECT_ORDERS)
                .param(userId)
                .query((rs, row) -> new OrderItemRow(rs.getLong(1), rs.getDouble(2), rs.getString(3), rs.getLong(4),
                        new OrderItem(BigInteger.valueOf(rs.getLong(5)), rs.getLong(6), rs.getDouble(7))))
                .list();
        // Rows come ordered by order id, then position: one order's items are adjacent.
        List<Order> orders = new ArrayList<>();
        int start = 0;
        for (int end = 1; end <= rows.size(); end++) {
            if (end == rows.size() || rows.get(end).id() != rows.get(start).id()) {
                OrderItemRow first = rows.get(start);
                List<OrderItem> items = rows.subList(start, end).stream().map(OrderItemRow::item).toList();
                orders.add(new Order(first.id(), BigInteger.valueOf(userId), items, first.total(), first.status(),
                        first.createdAt()));
                start = end;
            }
        }
        return orders;
    }

    @Override
    public Order create(BigInteger userId, List<OrderItem> items, double total) {
        // Everything is checked before the transaction starts, so a bad item writes nothing.
        long user = bigint(userId, "user_id");
        checkItems(items);
        long[] productIds = new long[items.size()];
        long[] quantities = new long[items.size()];
        double[] prices = new double[items.size()];
        for (int i = 0; i < items.size(); i++) {
            productIds[i] = items.get(i).productId().longValue();
            quantities[i] = items.get(i).quantity();
            prices[i] = items.get(i).price();
        }
        long createdAt = System.currentTimeMillis();
        Long id = transactions.execute(status -> {
            long orderId = jdbc.sql(INSERT_ORDER).params(user, total, createdAt).query(Long.class).single();
            jdbc.sql(INSERT_ITEMS).params(orderId, productIds, quantities, prices).update();
            return orderId;
        });
        return new Order(id, userId, List.copyOf(items), total, "created", createdAt);
    }

    /** product_id must fit BIGINT (quantity is a Java long already). */
    @Override
    public void checkItems(List<OrderItem> items) {
        for (OrderItem item : items) {
            bigint(item.productId(), "product_id");
        }
    }

    /** A u64 from the request as a BIGINT, or the 400 naming the field. */
    private static long bigint(BigInteger value, String field) {
        if (value.compareTo(BIGINT_MAX) > 0) {
            throw new ApiException(HttpStatus.BAD_REQUEST,
                    "invalid order: " + field + " " + value + " does not fit the database's BIGINT (max " + BIGINT_MAX + ")");
        }
        return value.longValue();
    }
}
