package lanebench.springboot;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.Validator;
import java.math.BigInteger;
import java.util.List;
import java.util.Set;
import lanebench.springboot.Models.ApiError;
import lanebench.springboot.Models.Order;
import lanebench.springboot.Models.OrderItem;
import lanebench.springboot.Models.Summary;
import lanebench.springboot.Models.User;
import lanebench.springboot.Models.UserOrderRequest;
import org.springframework.context.annotation.Profile;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RestController;

/**
 * The two endpoints of a user service (service-to-service mode, ORDERS_URL set): they read
 * the user locally and call the order service through {@link OrdersClient}. Without
 * ORDERS_URL this controller does not exist, so its paths stay unknown (404).
 */
@RestController
@Profile(Application.USER_SERVICE_PROFILE)
class UserServiceController {

    private final Store store;
    private final OrdersClient orders;
    private final ObjectMapper mapper;
    private final Validator validator;

    UserServiceController(Store store, OrdersClient orders, ObjectMapper mapper, Validator validator) {
        this.store = store;
        this.orders = orders;
        this.mapper = mapper;
        this.validator = validator;
        warmUp();
    }

    /**
     * Binds, validates and encodes once before the port opens: in a cold JVM the first Bean
     * Validation of a type and the first use of a Jackson (de)serializer are slow, and that
     * time would come out of the contract's DOWNSTREAM_TIMEOUT_MS + 100 ms.
     */
    private void warmUp() {
        List<OrderItem> items = items(mapper.createObjectNode().set("items", mapper.valueToTree(
                List.of(new OrderItem(BigInteger.ONE, 1L, 1.0)))));
        try {
            mapper.writeValueAsBytes(new Summary(1, "User 1", "user1@example.com", List.of(), false));
            mapper.writeValueAsBytes(items);
            mapper.writeValueAsBytes(new ApiError("orders unavailable: warm-up"));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @GetMapping("/api/users/{id}/summary")
    ResponseEntity<Summary> summary(@PathVariable("id") String rawId) {
        User user = user(rawId);
        try {
            List<Order> list = orders.ordersOf(user.id());
            return ResponseEntity.ok(new Summary(user.id(), user.name(), user.email(), list, false));
        } catch (OrdersClient.Unavailable e) {
            return ResponseEntity.ok()
                    .header("X-Degraded", "true")
                    .body(new Summary(user.id(), user.name(), user.email(), null, true));
        }
    }

    /**
     * The body arrives as a JSON tree and is bound only after the user id is checked: the
     * contract wants an unknown user to be a 404 even when the items are invalid, and Spring
     * would validate a bound body before the method runs.
     */
    @PostMapping("/api/users/{id}/orders")
    ResponseEntity<?> createOrder(@PathVariable("id") String rawId, @RequestBody JsonNode body) {
        User user = user(rawId);
        List<OrderItem> items = items(body);
        ApiController.checkedTotal(items);
        store.checkItems(items);
        try {
            return ResponseEntity.status(HttpStatus.CREATED).body(orders.create(user.id(), items));
        } catch (OrdersClient.Unavailable e) {
            return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE)
                    .body(new ApiError("orders unavailable: " + e.getMessage()));
        }
    }

    /** The id rules of GET /api/users/{id}, then the user from the store (no row is a 404). */
    private User user(String rawId) {
        return store.user(ApiController.parseUserId(rawId))
                .orElseThrow(() -> new ApiException(HttpStatus.NOT_FOUND, "user " + rawId + " not found"));
    }

    /** The items, bound and validated as POST /api/orders binds and validates them. */
    private List<OrderItem> items(JsonNode body) {
        UserOrderRequest request;
        try {
            request = mapper.treeToValue(body, UserOrderRequest.class);
        } catch (JsonProcessingException e) {
            String detail = String.valueOf(e.getOriginalMessage()).lines().findFirst().orElse("");
            throw new ApiException(HttpStatus.BAD_REQUEST, "invalid JSON body: " + detail);
        }
        if (request == null) {
            throw new ApiException(HttpStatus.BAD_REQUEST, "request body must be a JSON object");
        }
        Set<ConstraintViolation<UserOrderRequest>> violations = validator.validate(request);
        if (!violations.isEmpty()) {
            ConstraintViolation<UserOrderRequest> first = violations.iterator().next();
            throw new ApiException(HttpStatus.BAD_REQUEST,
                    "invalid order: " + first.getPropertyPath() + " " + first.getMessage());
        }
        return request.items();
    }
}
