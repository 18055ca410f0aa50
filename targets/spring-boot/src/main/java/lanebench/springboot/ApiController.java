package lanebench.springboot;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.validation.Valid;
import jakarta.validation.Validator;
import java.util.List;
import lanebench.springboot.Models.Health;
import lanebench.springboot.Models.Order;
import lanebench.springboot.Models.OrderItem;
import lanebench.springboot.Models.OrderRequest;
import lanebench.springboot.Models.User;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.ResponseStatus;
import org.springframework.web.bind.annotation.RestController;

/** The contract's endpoints; errors are turned into JSON by {@link ApiErrorHandler}. */
@RestController
class ApiController {

    private static final long MAX_USER_ID = 1_000_000;

    private final Store store;

    ApiController(Store store, ObjectMapper mapper, Validator validator) {
        this.store = store;
        warmUp(mapper, validator);
    }

    /**
     * Reads, validates and writes one sample order before the port opens. In a cold JVM the
     * first Bean Validation of a type and the first use of a Jackson (de)serializer are slow;
     * a user service calling this one as its order service would spend that time out of its
     * DOWNSTREAM_TIMEOUT_MS. Startup only: requests do the same work as before.
     */
    private static void warmUp(ObjectMapper mapper, Validator validator) {
        try {
            OrderRequest sample = mapper.readValue(
                    "{\"user_id\":1,\"items\":[{\"product_id\":1,\"quantity\":1,\"price\":1.0}]}", OrderRequest.class);
            validator.validate(sample);
            Order order = new Order(1, sample.userId(), sample.items(), checkedTotal(sample.items()), "created", 0);
            mapper.writeValueAsBytes(List.of(order));
            mapper.writeValueAsBytes(new User(1, "User 1", "user1@example.com"));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @GetMapping("/health")
    Health health() {
        return new Health("healthy", System.currentTimeMillis());
    }

    @GetMapping("/api/users/{id}")
    User user(@PathVariable("id") String rawId) {
        return store.user(parseUserId(rawId))
                .orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND, "user " + rawId + " not found"));
    }

    @GetMapping("/api/users/{id}/orders")
    List<Order> userOrders(@PathVariable("id") String rawId) {
        return store.forUser(parseUserId(rawId));
    }

    @PostMapping("/api/orders")
    @ResponseStatus(HttpStatus.CREATED)
    Order createOrder(@Valid @RequestBody OrderRequest request) {
        return store.create(request.userId(), request.items(), checkedTotal(request.items()));
    }

    /** Sum of price * quantity; a total that is not finite is a 400. */
    static double checkedTotal(List<OrderItem> items) {
        double total = 0;
        for (OrderItem item : items) {
            total += item.price() * item.quantity();
        }
        if (!Double.isFinite(total)) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "order total (sum of price * quantity) is not a finite number");
        }
        return total;
    }

    /** 400 for a non-integer id, 404 for an integer outside 1..=1000000. */
    static long parseUserId(String raw) {
        if (!raw.matches("-?[0-9]+")) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "user id must be an integer, got '" + raw + "'");
        }
        long id;
        try {
            id = Long.parseLong(raw);
        } catch (NumberFormatException tooLarge) {
            throw new ApiException(HttpStatus.NOT_FOUND, "user " + raw + " not found");
        }
        if (id < 1 || id > MAX_USER_ID) {
            throw new ApiException(HttpStatus.NOT_FOUND, "user " + raw + " not found");
        }
        return id;
    }
}
