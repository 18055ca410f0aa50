package lanebench.springboot;

import com.fasterxml.jackson.annotation.JsonIgnore;
import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.NotNull;
import java.math.BigInteger;
import java.util.List;

/**
 * Request and response bodies of the contract. JSON names are snake_case through
 * spring.jackson.property-naming-strategy; boxed types let a missing field fail
 * {@code @NotNull} instead of silently becoming 0.
 */
final class Models {

    /** Largest u64: the contract's ids are unsigned 64-bit, wider than Java's long. */
    static final String U64_MAX = "18446744073709551615";

    private Models() {}

    /** Body of GET /health. */
    record Health(String status, long timestamp) {}

    /** Body of GET /api/users/{id}. */
    record User(long id, String name, String email) {}

    /** Body of every error response. */
    record ApiError(String error) {}

    /**
     * Body of POST /api/users/{id}/orders on a user service: only the items; a user_id in it
     * is an unknown field and ignored, since the path names the user.
     */
    record UserOrderRequest(@NotNull @NotEmpty List<@NotNull @Valid OrderItem> items) {}

    /** Body of GET /api/users/{id}/summary on a user service; orders is null when degraded. */
    record Summary(long id, String name, String email, List<Order> orders, boolean degraded) {}

    /** Body of POST /api/orders. */
    record OrderRequest(
            @NotNull @Min(0) @DecimalMax(U64_MAX) BigInteger userId,
            @NotNull @NotEmpty List<@NotNull @Valid OrderItem> items) {}

    /** One order line, in requests and in stored orders. */
    record OrderItem(
            @NotNull @Min(0) @DecimalMax(U64_MAX) BigInteger productId,
            @NotNull @Min(1) Long quantity,
            @NotNull @DecimalMin("0") Double price) {

        /** Jackson reads 1e999 as Infinity, which is not a price. */
        @JsonIgnore
        @AssertTrue(message = "must be a finite number")
        public boolean isPriceFinite() {
            return price == null || Double.isFinite(price);
        }
    }

    /** A created order, as returned by POST /api/orders and GET /api/users/{id}/orders. */
    record Order(
            long id, BigInteger userId, List<OrderItem> items, double total, String status, long createdAt) {}
}
