package lanebench.springboot;

import lanebench.springboot.Models.ApiError;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.core.NestedRuntimeException;
import org.springframework.dao.DataAccessException;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.transaction.TransactionException;
import org.springframework.validation.FieldError;
import org.springframework.web.HttpMediaTypeNotSupportedException;
import org.springframework.web.HttpRequestMethodNotSupportedException;
import org.springframework.web.bind.MethodArgumentNotValidException;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.servlet.NoHandlerFoundException;
import org.springframework.web.servlet.resource.NoResourceFoundException;

/**
 * Maps every failure to the contract's {@code {"error": ...}} JSON: bad bodies to 400,
 * unknown paths to 404, wrong methods to 405, database failures to 503. Spring's defaults would answer these
 * with its own error shape (and a 500 for anything unmapped).
 */
@RestControllerAdvice
class ApiErrorHandler {

    private static final Logger log = LoggerFactory.getLogger(ApiErrorHandler.class);

    @ExceptionHandler(ApiException.class)
    ResponseEntity<ApiError> refused(ApiException e) {
        return error(e.status(), e.getMessage());
    }

    @ExceptionHandler(HttpMessageNotReadableException.class)
    ResponseEntity<ApiError> unreadableBody(HttpMessageNotReadableException e) {
        // The root cause is Jackson's description (bad syntax, wrong type); its first line
        // is enough and keeps the body one line.
        Throwable cause = e.getMostSpecificCause();
        if (cause == e || cause.getMessage() == null) {
            // No parser error underneath: the body was empty or the JSON literal null.
            return error(HttpStatus.BAD_REQUEST, "request body must be a JSON object");
        }
        String detail = cause.getMessage().lines().findFirst().orElse("");
        return error(HttpStatus.BAD_REQUEST, "invalid JSON body: " + detail);
    }

    @ExceptionHandler(MethodArgumentNotValidException.class)
    ResponseEntity<ApiError> invalidOrder(MethodArgumentNotValidException e) {
        FieldError field = e.getBindingResult().getFieldError();
        String detail = field == null
                ? String.valueOf(e.getBindingResult().getAllErrors().get(0).getDefaultMessage())
                : field.getField() + " " + field.getDefaultMessage();
        return error(HttpStatus.BAD_REQUEST, "invalid order: " + detail);
    }

    @ExceptionHandler(HttpMediaTypeNotSupportedException.class)
    ResponseEntity<ApiError> unsupportedMediaType(HttpMediaTypeNotSupportedException e) {
        return error(HttpStatus.UNSUPPORTED_MEDIA_TYPE, "request body must be application/json");
    }

    @ExceptionHandler({NoHandlerFoundException.class, NoResourceFoundException.class})
    ResponseEntity<ApiError> noRoute(Exception e) {
        return error(HttpStatus.NOT_FOUND, "no route for this path");
    }

    @ExceptionHandler(HttpRequestMethodNotSupportedException.class)
    ResponseEntity<ApiError> wrongMethod(HttpRequestMethodNotSupportedException e) {
        HttpHeaders headers = new HttpHeaders();
        if (e.getSupportedHttpMethods() != null) {
            headers.setAllow(e.getSupportedHttpMethods());
        }
        return error(HttpStatus.METHOD_NOT_ALLOWED, "method " + e.getMethod() + " not allowed here", headers);
    }

    /**
     * Database mode: the database failed or no pool connection came within the timeout.
     * The driver's own reason (first line) is the message.
     */
    @ExceptionHandler({DataAccessException.class, TransactionException.class})
    ResponseEntity<ApiError> databaseUnavailable(NestedRuntimeException e) {
        String reason = String.valueOf(e.getMostSpecificCause().getMessage()).lines().findFirst().orElse("");
        return error(HttpStatus.SERVICE_UNAVAILABLE, "database unavailable: " + reason);
    }

    @ExceptionHandler(Exception.class)
    ResponseEntity<ApiError> unexpected(Exception e) {
        log.error("unhandled error", e);
        HttpStatusCode status = e instanceof org.springframework.web.ErrorResponse response
                ? response.getStatusCode()
                : HttpStatus.INTERNAL_SERVER_ERROR;
        return error(HttpStatus.valueOf(status.value()), e.getClass().getSimpleName());
    }

    private static ResponseEntity<ApiError> error(HttpStatus status, String message) {
        return error(status, message, new HttpHeaders());
    }

    private static ResponseEntity<ApiError> error(HttpStatus status, String message, HttpHeaders headers) {
        return ResponseEntity.status(status)
                .headers(headers)
                .contentType(MediaType.APPLICATION_JSON)
                .body(new ApiError(message));
    }
}
